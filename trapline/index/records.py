"""Indicator records: what a feed says about one value, as the index stores it."""

from __future__ import annotations

from typing import Any

import msgspec


class IndicatorRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One indicator from one feed, before normalization.

    ``kind`` may be left out for detection; times are Unix seconds (UTC).
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


class StoredRecord(msgspec.Struct, frozen=True, array_like=True):
    """A record as a snapshot holds it: canonical value, interned feed and category."""

    feed: int
    category: int
    value: str
    first_seen: float | None
    last_seen: float | None
    valid_until: float | None
    confidence: int | None
    context: dict[str, Any]


class Entry(msgspec.Struct, frozen=True, array_like=True):
    """Everything stored under one key: flags (see FLAG_*) and the records."""

    flags: int
    records: list[StoredRecord]


FLAG_PUBLIC_SUFFIX = 1  # a domain that is itself a public suffix: exact matches only

ENTRY_ENCODER = msgspec.msgpack.Encoder()
ENTRY_DECODER = msgspec.msgpack.Decoder(Entry)
