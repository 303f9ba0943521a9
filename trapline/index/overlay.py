"""The API-managed lists of one tenant, in memory: InternalTI and FalsePositive.

    overlay = Overlay.build(7, internal=[ListEntry("198.51.100.7")],
                            false_positive=[ListEntry("good.example")])

InternalTI is the deny list: its indicators always alert, even when they are
also false positives (protocol.md section 2). FalsePositive suppresses feed
matches: an observable the list matches, by the usual rules (a domain covers its
subdomains and the URLs on them, a network its addresses, a mask what it
matches), loses its feed matches; the verdict keeps them as ``suppressed``. Both lists are small
next to the feeds and change often, so they live beside the feed snapshot in
every worker, rebuilt in milliseconds when the store's lists version moves,
never folded into the snapshot file.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from trapline.index.build import SnapshotBuilder
from trapline.index.memory_backend import MemoryBackend
from trapline.index.records import IndicatorRecord
from trapline.index.snapshot import Snapshot
from trapline.indicators import InvalidIndicator, normalize

INTERNAL_TI = "InternalTI"
FALSE_POSITIVE = "FalsePositive"
RESERVED_LISTS = (INTERNAL_TI, FALSE_POSITIVE)


class ListEntry(msgspec.Struct, frozen=True):
    """One indicator of a list: its value, optional kind, category and context."""

    value: str
    kind: str | None = None
    category: str = ""
    context: dict[str, Any] = msgspec.field(default_factory=dict)
    valid_until: float | None = None


class Overlay:
    """InternalTI and FalsePositive of one tenant, ready for lookups."""

    def __init__(self, version: int, internal: Snapshot | None,
                 false_positive: Snapshot | None, rejected: list[str]) -> None:
        self.version = version
        self.internal = internal
        self.false_positive = false_positive
        self.rejected = rejected  # entries that are not indicators, with the reason

    @classmethod
    def build(cls, version: int, internal: Iterable[ListEntry] = (),
              false_positive: Iterable[ListEntry] = ()) -> Overlay:
        """Index both lists; entries that are not indicators are listed in ``rejected``."""
        rejected: list[str] = []
        deny = _snapshot(INTERNAL_TI, internal, version, rejected)
        allow = _snapshot(FALSE_POSITIVE, false_positive, version, rejected)
        return cls(version, deny, allow, rejected)

    @property
    def empty(self) -> bool:
        return self.internal is None and self.false_positive is None


EMPTY = Overlay(0, None, None, [])


def _snapshot(name: str, entries: Iterable[ListEntry], version: int,
              rejected: list[str]) -> Snapshot | None:
    """A memory snapshot of one list; None when it holds no indicator."""
    builder = SnapshotBuilder()
    for entry in entries:
        try:
            normalize(entry.value, entry.kind or None)
        except (InvalidIndicator, ValueError) as exc:
            rejected.append(f"{name}: {exc}")
            continue
        builder.add(IndicatorRecord(value=entry.value, kind=entry.kind or None, feed=name,
                                    category=entry.category or name, context=entry.context,
                                    valid_until=entry.valid_until))
    if len(builder) == 0:
        return None
    return Snapshot(MemoryBackend(builder, msgspec.msgpack.encode(builder.meta(version))))
