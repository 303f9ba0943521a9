"""Normalizing rules: literal replacements, then literal sequences that drop an event.

    >>> Normalizer(replace=[("\\\\=", "=")], ignore=["heartbeat"]).apply("a\\\\=b")
    'a=b'

Both run before the extraction rules, in this order, on the whole event; there are
no wildcards. An event containing an ``ignore`` sequence (after the replacements)
is dropped: ``apply`` returns None.
"""

from __future__ import annotations

from collections.abc import Sequence


class Normalizer:
    """``replace`` pairs applied in order, then the ``ignore`` test."""

    __slots__ = ("ignore", "replace")

    def __init__(self, replace: Sequence[tuple[str, str]] = (),
                 ignore: Sequence[str] = ()) -> None:
        self.replace = tuple((old, new) for old, new in replace)
        self.ignore = tuple(ignore)

    def __bool__(self) -> bool:
        return bool(self.replace or self.ignore)

    def apply(self, event: str) -> str | None:
        """The event after the replacements, or None when it is to be ignored."""
        for old, new in self.replace:
            if old in event:
                event = event.replace(old, new)
        for sequence in self.ignore:
            if sequence in event:
                return None
        return event
