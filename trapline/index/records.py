"""Indicator records: what a feed says about one value, as the index stores it."""

from __future__ import annotations

from typing import Any

import msgspec


class IndicatorRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One indicator from one feed, before normalization.

    ``kind`` may be left out for detection; times are Unix seconds (UTC). ``allow``
    marks an allow-list record: an observable it matches produces no detection.
    Allow records may also have the kind ``substring`` (MISP warning lists).
    """

    value: str
    kind: str | None = None
    feed: str = ""
    category: str = ""
    context: dict[str, Any] = msgspec.field(default_factory=dict)
    first_seen: float | None = None
    last_seen: float | None = None
    valid_until: float | None = None
    confidence: int | None = None
    allow: bool = False


SUBSTRING = "substring"  # the pseudo-kind of allow-list substrings


class StoredRecord(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A record as a snapshot holds it: interned feed and category, lifecycle, context.

    ``value`` is the canonical pattern where the key cannot spell it (masks, URLs
    longer than a key), else empty: the pattern is then read back from the key.
    """

    feed: int
    category: int
    value: str
    first_seen: float | None
    last_seen: float | None
    valid_until: float | None
    confidence: int | None
    context: dict[str, Any]


class Entry(msgspec.Struct, frozen=True, array_like=True):
    """Everything stored under one key: flags (none defined yet; 0) and the records."""

    flags: int
    records: list[StoredRecord]


class NameEntry(msgspec.Struct, frozen=True, array_like=True):
    """Everything anchored at one host name, so a label walk costs one read per label.

    ``domain``: domain indicators equal to the name; ``url``: URL indicators that are
    just the host; ``mask``: masks on exactly this host (``host/dir/*``);
    ``submask``: domain masks of its proper subdomains (``*.name``).
    """

    domain: list[StoredRecord]
    url: list[StoredRecord]
    mask: list[StoredRecord]
    submask: list[StoredRecord]


NAME_ROLES = ("domain", "url", "mask", "submask")

ENTRY_ENCODER = msgspec.msgpack.Encoder()
ENTRY_DECODER = msgspec.msgpack.Decoder(Entry)
NAME_DECODER = msgspec.msgpack.Decoder(NameEntry)
