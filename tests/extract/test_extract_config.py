"""``[[rule_sets]]`` tables (docs/extraction.md, *Configuration*): the keys, the errors."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from trapline.errors import ConfigError
from trapline.extract import (
    MAX_PATTERN_CHARS,
    Observed,
    RuleSet,
    rule_set_from_config,
    rule_sets_from_config,
)
from trapline.extract.presets import CefRuleSet, KumaRuleSet

EXAMPLE = r'''
[[rule_sets]]
name = "firewall"
match = "^CEF:"
request_id = "reqid=(\\S+)"
replace = [["\\=", "="]]   # TOML for the two characters \=
ignore = ["heartbeat"]
[[rule_sets.rules]]
name = "src"
type = "IP"
regex = "src=([^\\s]*?)(?:\\s|$)"
extract = "all"
[[rule_sets.rules]]
name = "RE_request"
type = "URL"
regex = "request=(.*?)(?:\\s|$)"
[[rule_sets.rules]]
name = "act"
type = "context"
regex = "act=(\\S+)"
extract = "first"
'''


def example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE)["rule_sets"][0]


def test_the_documented_example() -> None:
    rule_set = rule_set_from_config(example())
    assert rule_set.name == "firewall"
    assert type(rule_set) is RuleSet
    assert rule_set.match is not None and rule_set.match.pattern == "^CEF:"
    event = r"CEF:0|V|P|1|1|x|5|reqid=77 src=10.0.0.5 act=blocked request=http://e.example/?a\=b"
    extraction = rule_set.extract(event)
    assert extraction is not None
    assert extraction.observables == [Observed("src", "IP", "10.0.0.5"),
                                      Observed("request", "URL", "http://e.example/?a=b")]
    assert extraction.captures["act"] == ["blocked"]
    assert extraction.request_id == "77"
    assert rule_set.extract("CEF:0|V|P|1|1|heartbeat|1|src=10.0.0.5") is None


def test_defaults() -> None:
    rule_set = rule_set_from_config({"name": "r", "rules": [
        {"name": "ip", "type": "IP", "regex": r"ip=(\S+)"}]})
    assert rule_set.match is None and rule_set.request_id is None
    assert not rule_set.normalizer
    assert rule_set.rules[0].first is False  # extract = "all"
    assert [o.value for o in rule_set.extract("ip=192.0.2.1 ip=192.0.2.2").observables] == [
        "192.0.2.1", "192.0.2.2"]  # type: ignore[union-attr]


def test_re_prefix_is_dropped_from_rule_names() -> None:
    rule_set = rule_set_from_config(example())
    assert [rule.name for rule in rule_set.rules] == ["src", "request", "act"]


def test_types_are_case_insensitive() -> None:
    assert rule_set_from_config(example()).rules[2].type == "CONTEXT"


def test_a_preset_with_extra_rules_and_its_own_match() -> None:
    table = {"name": "proxy", "preset": "cef",
             "rules": [{"name": "user", "type": "CONTEXT", "regex": r"suser=(\S+)"}]}
    rule_set = rule_set_from_config(table)
    assert isinstance(rule_set, CefRuleSet)
    assert rule_set.match is not None and rule_set.match.pattern == CefRuleSet.default_match
    extraction = rule_set.extract("CEF:0|V|P|1|1|x|5|src=10.0.0.5 suser=alice")
    assert extraction is not None
    assert extraction.observables == [Observed("src", "IP", "10.0.0.5")]
    assert extraction.captures["user"] == ["alice"]


def test_match_overrides_or_disables_a_presets_match() -> None:
    own = rule_set_from_config({"name": "k", "preset": "kuma", "match": "^REQ "})
    none = rule_set_from_config({"name": "k", "preset": "kuma", "match": ""})
    assert isinstance(own, KumaRuleSet)
    assert own.match is not None and own.match.pattern == "^REQ "
    assert none.match is None


def test_rule_sets_from_config_keeps_order() -> None:
    tables = [example(), {"name": "generic2", "preset": "generic"}]
    assert [r.name for r in rule_sets_from_config(tables)] == ["firewall", "generic2"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"name": ""}, "name must be"),
        ({"name": 7}, "name must be"),
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"preset": "syslog"}, "unknown preset 'syslog'"),
        ({"match": "(unclosed"}, "match: regular expression '(unclosed' does not compile"),
        ({"request_id": "[a-"}, "request_id: regular expression"),
        ({"match": "x" * (MAX_PATTERN_CHARS + 1)}, "longer than 4096"),
        ({"match": 5}, "must be a non-empty string"),
        ({"replace": ["\\=", "="]}, "replace[0] must be a pair"),
        ({"replace": [["", "x"]]}, "non-empty 'from'"),
        ({"replace": "x"}, "replace must be a list"),
        ({"ignore": "heartbeat"}, "ignore must be a list"),
        ({"ignore": [""]}, "ignore must be a list of non-empty strings"),
        ({"rules": {"name": "x"}}, "rules must be"),
        ({"rules": []}, "no rules and no preset"),
    ],
)
def test_rule_set_errors(change: dict[str, Any], reason: str) -> None:
    table = {**example(), **change}
    with pytest.raises(ConfigError, match=reason.replace("(", r"\(").replace("[", r"\[")):
        rule_set_from_config(table)


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ({"type": "IP", "regex": "x"}, "name None must be"),
        ({"name": "a b", "type": "IP", "regex": "x"}, "name 'a b' must be"),
        ({"name": "x", "regex": "x"}, "type None is not one of URL, MD5"),
        ({"name": "x", "type": "EMAIL", "regex": "x"}, "type 'EMAIL' is not one of"),
        ({"name": "x", "type": "IP"}, "rule 'x': no regex"),
        ({"name": "x", "type": "IP", "regex": "a(b"}, "rule 'x': regex: regular expression"),
        ({"name": "x", "type": "IP", "regex": ""}, "must be a non-empty string"),
        ({"name": "x", "type": "IP", "regex": "a" * 5000}, "longer than 4096"),
        ({"name": "x", "type": "IP", "regex": "x", "extract": "last"}, "'all' or 'first'"),
        ({"name": "x", "type": "IP", "regex": "x", "flags": "i"}, "unknown key 'flags'"),
    ],
)
def test_rule_errors(rule: dict[str, Any], reason: str) -> None:
    table = {"name": "fw", "rules": [rule]}
    with pytest.raises(ConfigError, match="rule set 'fw'") as info:
        rule_set_from_config(table)
    assert reason in str(info.value)


def test_duplicate_rule_names_are_refused() -> None:
    rule = {"name": "ip", "type": "IP", "regex": "x"}
    with pytest.raises(ConfigError, match="a second rule with this name"):
        rule_set_from_config({"name": "fw", "rules": [rule, {**rule, "name": "RE_ip"}]})


def test_duplicate_rule_set_names_name_the_index() -> None:
    with pytest.raises(ConfigError, match=r"rule_sets\[1\]: a second rule set named 'firewall'"):
        rule_sets_from_config([example(), example()])


def test_errors_in_a_list_name_the_index() -> None:
    with pytest.raises(ConfigError, match=r"rule_sets\[1\]: rule set 'b': unknown key"):
        rule_sets_from_config([example(), {"name": "b", "preset": "eve", "x": 1}])


def test_not_a_table() -> None:
    with pytest.raises(ConfigError, match="must be a table"):
        rule_set_from_config(["name", "x"])  # type: ignore[arg-type]
