"""The accumulator one extraction fills: observables in order without duplicates, captures.

    out = Collector()
    out.field("dest_ip", "IP", "192.0.2.7")
    out.field("src_ip", "IP", "192.0.2.7")        # the same type and value: not again
    out.context("dest_port", 443)
    out.extraction(None)
    # Extraction(observables=[Observed('dest_ip', 'IP', '192.0.2.7')],
    #            captures={'dest_ip': ['192.0.2.7'], 'src_ip': ['192.0.2.7'],
    #                      'dest_port': ['443']}, request_id=None)

Every value a rule or a preset field finds is captured under the rule's name, whether
or not it is an observable; observables are the captured values that look like their
type (``trapline.extract.values.accept``). The methods are written for the hot path:
one call per field.
"""

from __future__ import annotations

from typing import Any

from trapline.extract.fields import field_type
from trapline.extract.model import Extraction, Observed
from trapline.extract.values import accept

_new = tuple.__new__


class Collector:
    """Observables and captures of one event, filled by rules and presets."""

    __slots__ = ("captures", "observables", "seen")

    def __init__(self) -> None:
        self.observables: list[Observed] = []
        self.captures: dict[str, list[str]] = {}
        self.seen: set[tuple[str, str]] = set()

    def field(self, rule: str, kind: str, value: Any) -> None:
        """Capture ``value`` (a non-empty string, else nothing) and offer it as a ``kind``."""
        if value.__class__ is not str or not value:
            return
        captures = self.captures
        if rule in captures:
            captures[rule].append(value)
        else:
            captures[rule] = [value]
        key = accept(kind, value)
        if key is not None and key not in self.seen:
            self.seen.add(key)
            self.observables.append(_new(Observed, (rule, key[0], key[1])))

    def pair(self, key: str, value: str) -> None:
        """A ``key=value`` pair: an observable when the key names a type, else a capture."""
        kind = field_type(key)
        if kind is None:
            self.capture(key, value)
        else:
            self.field(key, kind, value)

    def found(self, rule: str, kind: str, value: str) -> None:
        """Capture and record a value already known to be a ``kind`` observable."""
        captures = self.captures
        if rule in captures:
            captures[rule].append(value)
        else:
            captures[rule] = [value]
        key = (kind, value)
        if key not in self.seen:
            self.seen.add(key)
            self.observables.append(_new(Observed, (rule, kind, value)))

    def offer(self, rule: str, kind: str, value: str) -> None:
        """Record ``value`` as a ``kind`` observable if it looks like one (no capture)."""
        key = accept(kind, value)
        if key is not None and key not in self.seen:
            self.seen.add(key)
            self.observables.append(_new(Observed, (rule, key[0], key[1])))

    def context(self, name: str, value: Any) -> None:
        """Capture a context value: a non-empty string, or a number as text."""
        cls = value.__class__
        if cls is str:
            if not value:
                return
        elif cls is int or cls is float:
            value = str(value)
        else:
            return
        captures = self.captures
        if name in captures:
            captures[name].append(value)
        else:
            captures[name] = [value]

    def capture(self, name: str, value: str) -> None:
        """Keep ``value`` under ``name`` for placeholders and the record context."""
        captures = self.captures
        if name in captures:
            captures[name].append(value)
        else:
            captures[name] = [value]

    def extraction(self, request_id: str | None) -> Extraction:
        """The finished extraction."""
        return _new(Extraction, (self.observables, self.captures, request_id))
