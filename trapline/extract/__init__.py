"""Extraction: which observables an event holds, by typed rules or by a preset per source.

    from trapline.extract import presets, choose_rule_set
    shipped = presets()
    rule_set = choose_rule_set(line, [shipped["kuma"]], default=shipped["generic"])
    extraction = rule_set.extract(line)     # None if an ``ignore`` rule dropped the event
    for observed in extraction.observables:
        observed.rule, observed.type, observed.value     # 'dest_ip', 'IP', '192.0.2.7'

The model (rules, types, normalizing rules, presets, limits) is in docs/extraction.md.
Values are handed over as found (refanged); canonical forms are the index's job.
"""

from trapline.extract.choose import choose_rule_set
from trapline.extract.collector import Collector
from trapline.extract.config import compile_pattern, rule_set_from_config, rule_sets_from_config
from trapline.extract.model import (
    MAX_EVENT_CHARS,
    MAX_PATTERN_CHARS,
    RULE_TYPES,
    Extraction,
    Observed,
)
from trapline.extract.normalizing import Normalizer
from trapline.extract.presets import AUTO_ORDER, presets
from trapline.extract.rules import Rule, RuleSet

__all__ = [
    "AUTO_ORDER",
    "MAX_EVENT_CHARS",
    "MAX_PATTERN_CHARS",
    "RULE_TYPES",
    "Collector",
    "Extraction",
    "Normalizer",
    "Observed",
    "Rule",
    "RuleSet",
    "choose_rule_set",
    "compile_pattern",
    "presets",
    "rule_set_from_config",
    "rule_sets_from_config",
]
