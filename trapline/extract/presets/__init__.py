"""The shipped rule sets, one per event source, each reading its format directly.

    rule_sets = presets()
    rule_sets["eve"].extract(line)

- ``kuma``: ``[token ]ip=...|url=...|hash=...`` (KUMA requests);
  match: a known pair first, then ``|`` or the end
- ``keyvalue``: ``key=value key=value`` (Splunk app, MaxPatrol); match: ``key=`` first
- ``cef``: ``CEF:0|Vendor|...|extension``; match: ``CEF:<version>|``
- ``eve``: Suricata EVE JSON; match: ``"event_type":``
- ``sysmon``: Sysmon and Windows events as JSON; match: ``"EventID":`` or ``"winlog":``
- ``generic``: any text; no match (a default)

``AUTO_ORDER`` lists the presets in an order in which their ``match`` patterns can
pick a format automatically: ``choose_rule_set(e, [p[n] for n in AUTO_ORDER], p["generic"])``.
"""

from __future__ import annotations

from trapline.extract.presets.cef import CefRuleSet
from trapline.extract.presets.eve import EveRuleSet
from trapline.extract.presets.generic import GenericRuleSet
from trapline.extract.presets.keyvalue import KeyValueRuleSet
from trapline.extract.presets.kuma import KumaRuleSet
from trapline.extract.presets.sysmon import SysmonRuleSet
from trapline.extract.rules import RuleSet

PRESET_CLASSES: dict[str, type[RuleSet]] = {
    "kuma": KumaRuleSet,
    "keyvalue": KeyValueRuleSet,
    "cef": CefRuleSet,
    "eve": EveRuleSet,
    "sysmon": SysmonRuleSet,
    "generic": GenericRuleSet,
}
#: Most specific first: kuma before keyvalue (a KUMA request also starts with ``key=``).
AUTO_ORDER = ("cef", "eve", "sysmon", "kuma", "keyvalue")


def presets() -> dict[str, RuleSet]:
    """A fresh instance of every preset, by name."""
    return {name: cls(name) for name, cls in PRESET_CLASSES.items()}


__all__ = [
    "AUTO_ORDER",
    "PRESET_CLASSES",
    "CefRuleSet",
    "EveRuleSet",
    "GenericRuleSet",
    "KeyValueRuleSet",
    "KumaRuleSet",
    "SysmonRuleSet",
    "presets",
]
