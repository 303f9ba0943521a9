"""Which rule set reads an event: the first whose ``match`` finds something in it.

    rule_set = choose_rule_set('CEF:0|Vendor|...', [cef, eve], default=generic)   # cef

``match`` is searched in the event as received (at most its first 64 KiB); a rule
set without one is never chosen this way, only as the default.
"""

from __future__ import annotations

from collections.abc import Sequence

from trapline.extract.model import MAX_EVENT_CHARS
from trapline.extract.rules import RuleSet


def choose_rule_set(event: str, rule_sets: Sequence[RuleSet], default: RuleSet) -> RuleSet:
    """The first rule set in ``rule_sets`` whose ``match`` finds something, else ``default``."""
    for rule_set in rule_sets:
        match = rule_set.match
        if match is not None and match.search(event, 0, MAX_EVENT_CHARS) is not None:
            return rule_set
    return default
