"""Typed extraction rules and the rule set that runs them on an event.

    rule_set = RuleSet("firewall", [Rule("src", "IP", r"src=([^\\s]*)")],
                       match="^CEF:", ignore=["heartbeat"])
    rule_set.extract("CEF:0|V|P|1|1|x|5|src=192.0.2.7 dst=198.51.100.1")
    # Extraction(observables=[Observed('src', 'IP', '192.0.2.7')],
    #            captures={'src': ['192.0.2.7']}, request_id=None)

A rule's value is its regular expression's first capture group, or the whole match
when it has none. ``extract="all"`` yields every match, ``"first"`` the first
non-empty one. CONTEXT rules only capture. Presets (``trapline.extract.presets``)
are RuleSet subclasses that read their event format in ``scan``; configured rules
run after it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from trapline.extract.collector import Collector
from trapline.extract.model import CONTEXT, MAX_EVENT_CHARS, Extraction
from trapline.extract.normalizing import Normalizer

_UNSET: Final = object()
Pattern = re.Pattern[str]


def _compiled(pattern: str | Pattern | None) -> Pattern | None:
    if pattern is None or isinstance(pattern, re.Pattern):
        return pattern
    return re.compile(pattern)


class Rule:
    """A named, typed regular expression."""

    __slots__ = ("first", "group", "name", "pattern", "type")

    def __init__(self, name: str, type_: str, pattern: str | Pattern,
                 extract: str = "all") -> None:
        self.name = name
        self.type = type_
        self.pattern: Pattern = re.compile(pattern) if isinstance(pattern, str) else pattern
        self.group = 1 if self.pattern.groups else 0
        self.first = extract == "first"

    def __repr__(self) -> str:
        mode = "first" if self.first else "all"
        return f"Rule({self.name!r}, {self.type!r}, {self.pattern.pattern!r}, {mode!r})"

    def apply(self, text: str, out: Collector) -> None:
        """Capture this rule's values in ``text`` and offer the typed ones as observables."""
        group, name, kind = self.group, self.name, self.type
        for match in self.pattern.finditer(text):
            value = match.group(group)
            if not value:
                continue
            if kind == CONTEXT:
                out.capture(name, value)
            else:
                out.field(name, kind, value)
            if self.first:
                return


class RuleSet:
    """Normalizing rules, an optional preset reader (``scan``) and typed rules.

    ``match`` chooses the rule set for an event (``choose_rule_set``); ``request_id``
    is searched in the event as received and its group 1 (or whole match) is the
    high-availability request id.
    """

    #: A preset's own ``match`` when the configuration gives none.
    default_match: str | None = None
    #: The preset a rule set reads its events with ("rules" for plain rule sets).
    preset = "rules"

    def __init__(self, name: str, rules: Iterable[Rule] = (), *,
                 match: str | Pattern | object | None = _UNSET,
                 request_id: str | Pattern | None = None,
                 replace: Iterable[tuple[str, str]] = (),
                 ignore: Iterable[str] = ()) -> None:
        self.name = name
        self.rules = tuple(rules)
        if match is _UNSET:
            match = self.default_match
        self.match: Pattern | None = _compiled(match)  # type: ignore[arg-type]
        self.request_id: Pattern | None = _compiled(request_id)
        self.normalizer = Normalizer(tuple(replace), tuple(ignore))
        self._normalize = self.normalizer.apply if self.normalizer else None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}: {len(self.rules)} rules>"

    def extract(self, event: str) -> Extraction | None:
        """The observables and captures of ``event``; None when an ``ignore`` rule drops it."""
        if len(event) > MAX_EVENT_CHARS:
            event = event[:MAX_EVENT_CHARS]
        request_id = None
        if self.request_id is not None:
            found = self.request_id.search(event)
            if found is not None:
                request_id = found.group(1) if found.re.groups else found.group(0)
        text: str | None = event
        if self._normalize is not None:
            text = self._normalize(event)
            if text is None:
                return None
        out = Collector()
        self.scan(text, out)
        for rule in self.rules:
            rule.apply(text, out)
        return out.extraction(request_id)

    def scan(self, text: str, out: Collector) -> None:
        """Read the event's own format (presets); a plain rule set has only its rules."""
