r"""Rule sets from the configuration file's ``[[rule_sets]]`` tables.

    [[rule_sets]]
    name = "firewall"
    match = "^CEF:"
    request_id = 'reqid=(\S+)'
    replace = [['\=', '=']]
    ignore = ["heartbeat"]
    [[rule_sets.rules]]
    name = "src"
    type = "IP"
    regex = 'src=([^\s]*?)(?:\s|$)'
    extract = "all"

Every key and its default is in docs/extraction.md. Anything wrong (an unknown key,
a regular expression that does not compile or is longer than 4 KiB, an unknown
type or preset) raises ConfigError naming the rule set, the rule and the reason. A
pattern that one hostile line could stall for half a second or more
(``trapline.extract.guard``) is accepted with a warning in the log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from trapline.errors import ConfigError
from trapline.extract.guard import SLOW_SECONDS, probe_seconds
from trapline.extract.model import MAX_PATTERN_CHARS, RULE_TYPES
from trapline.extract.presets import PRESET_CLASSES
from trapline.extract.rules import Rule, RuleSet

log = logging.getLogger(__name__)
_SET_KEYS = ("name", "preset", "match", "request_id", "replace", "ignore", "rules")
_RULE_KEYS = ("name", "type", "regex", "extract")
_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
_SET_NAME = re.compile(r"[A-Za-z0-9_.\- ]{1,128}")


def rule_set_from_config(table: dict[str, Any]) -> RuleSet:
    """The rule set one ``[[rule_sets]]`` table describes; ConfigError if it is invalid."""
    if not isinstance(table, dict):
        raise ConfigError("a rule set must be a table ([[rule_sets]])")
    name = table.get("name")
    if not isinstance(name, str) or not _SET_NAME.fullmatch(name):
        raise ConfigError(f"rule set {name!r}: name must be 1-128 letters, digits, "
                          "'.', '_', '-' or spaces")
    where = f"rule set {name!r}"
    _known_keys(table, _SET_KEYS, where)
    preset = table.get("preset")
    if preset is not None and preset not in PRESET_CLASSES:
        raise ConfigError(f"{where}: unknown preset {preset!r} "
                          f"(presets: {', '.join(PRESET_CLASSES)})")
    rules = _rules(table.get("rules", []), where)
    if preset is None and not rules:
        raise ConfigError(f"{where}: no rules and no preset: it would find nothing")
    options: dict[str, Any] = {
        "request_id": _pattern(table.get("request_id"), f"{where}: request_id"),
        "replace": _replace(table.get("replace", []), where),
        "ignore": _ignore(table.get("ignore", []), where),
    }
    if "match" in table:
        options["match"] = _pattern(table["match"], f"{where}: match") or None
    cls = PRESET_CLASSES[preset] if preset is not None else RuleSet
    return cls(name, rules, **options)


def rule_sets_from_config(tables: Sequence[dict[str, Any]]) -> list[RuleSet]:
    """Every ``[[rule_sets]]`` table, in order; names must be unique."""
    rule_sets: list[RuleSet] = []
    seen: set[str] = set()
    for index, table in enumerate(tables):
        try:
            rule_set = rule_set_from_config(table)
        except ConfigError as exc:
            raise ConfigError(f"rule_sets[{index}]: {exc}") from None
        if rule_set.name in seen:
            raise ConfigError(f"rule_sets[{index}]: a second rule set named {rule_set.name!r}")
        seen.add(rule_set.name)
        rule_sets.append(rule_set)
    return rule_sets


def compile_pattern(pattern: object, where: str) -> re.Pattern[str]:
    """``pattern`` compiled, or ConfigError saying why it can not be."""
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError(f"{where}: a regular expression must be a non-empty string")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ConfigError(f"{where}: regular expression longer than {MAX_PATTERN_CHARS} "
                          "characters")
    try:
        compiled = re.compile(pattern)
    except (re.error, RecursionError, OverflowError, ValueError) as exc:
        raise ConfigError(f"{where}: regular expression {pattern!r} does not compile: "
                          f"{exc}") from None
    seconds = probe_seconds(compiled)
    if seconds > SLOW_SECONDS:
        log.warning("%s: regular expression %r can take about %.0f s on one hostile 64 KiB "
                    "line (a prefix repeated without its terminator); prefer a form that "
                    "needs no terminator, such as src=(\\S*) for src=([^\\s]*?)\\s "
                    "(docs/extraction.md, Limits)", where, pattern, seconds)
    return compiled


def _pattern(value: object, where: str) -> re.Pattern[str] | None:
    if value is None or value == "":
        return None
    return compile_pattern(value, where)


def _known_keys(table: dict[str, Any], known: Sequence[str], where: str) -> None:
    for key in table:
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(known)})")


def _rules(tables: object, where: str) -> list[Rule]:
    if not isinstance(tables, list):
        raise ConfigError(f"{where}: rules must be [[rule_sets.rules]] tables")
    rules: list[Rule] = []
    names: set[str] = set()
    for index, table in enumerate(tables):
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: rules[{index}] must be a table")
        name = table.get("name")
        if isinstance(name, str) and name.startswith("RE_") and len(name) > 3:
            name = name[3:]  # the vendor writes RE_URL; placeholders add RE_ back
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ConfigError(f"{where}: rules[{index}]: name {table.get('name')!r} must be "
                              "1-128 letters, digits, '.', '_' or '-'")
        here = f"{where}: rule {name!r}"
        _known_keys(table, _RULE_KEYS, here)
        if name in names:
            raise ConfigError(f"{here}: a second rule with this name")
        names.add(name)
        kind = table.get("type")
        if not isinstance(kind, str) or kind.upper() not in RULE_TYPES:
            raise ConfigError(f"{here}: type {kind!r} is not one of {', '.join(RULE_TYPES)}")
        extract = table.get("extract", "all")
        if extract not in ("all", "first"):
            raise ConfigError(f"{here}: extract {extract!r} must be 'all' or 'first'")
        if "regex" not in table:
            raise ConfigError(f"{here}: no regex")
        pattern = compile_pattern(table["regex"], f"{here}: regex")
        rules.append(Rule(name, kind.upper(), pattern, extract))
    return rules


def _replace(pairs: object, where: str) -> list[tuple[str, str]]:
    if not isinstance(pairs, list):
        raise ConfigError(f"{where}: replace must be a list of [from, to] pairs")
    result: list[tuple[str, str]] = []
    for index, pair in enumerate(pairs):
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(part, str) for part in pair) or not pair[0]):
            raise ConfigError(f"{where}: replace[{index}] must be a pair of strings "
                              f"[from, to] with a non-empty 'from', not {pair!r}")
        result.append((pair[0], pair[1]))
    return result


def _ignore(sequences: object, where: str) -> list[str]:
    if not isinstance(sequences, list) or not all(
            isinstance(item, str) and item for item in sequences):
        raise ConfigError(f"{where}: ignore must be a list of non-empty strings")
    return list(sequences)
