"""Building a snapshot: normalize records once, group them by key, write them out.

The builder holds the grouped records in memory (the building process only,
never a serving one) and hands them, sorted, to a backend: ``lmdb_backend`` for
the shared, memory-mapped file that workers serve from, ``memory_backend`` for
throwaway snapshots and the in-memory comparison of bench/.
"""

from __future__ import annotations

import gc
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import msgspec

from trapline.index.keys import SPACES, hash_key, ip_key, text_key
from trapline.index.records import (
    ENTRY_ENCODER,
    SUBSTRING,
    Entry,
    IndicatorRecord,
    NameEntry,
    StoredRecord,
)
from trapline.indicators import InvalidIndicator, Kind, normalize
from trapline.indicators.ip import network_of
from trapline.indicators.kinds import Indicator
from trapline.indicators.masks import HostMode, shape_of
from trapline.indicators.url import split_canonical

FORMAT_VERSION = 2
_EMPTY_CONTEXT = msgspec.Raw(msgspec.msgpack.encode({}))
MAX_REJECT_SAMPLES = 20
_PREFIX_32 = bytes((32,))
ROLE_DOMAIN, ROLE_URL, ROLE_MASK, ROLE_SUBMASK = range(4)  # NameEntry field order


class SnapshotMeta(msgspec.Struct, kw_only=True):
    """What a snapshot says about itself; stored under ``meta`` in the snapshot."""

    format: int = FORMAT_VERSION
    version: int = 0
    created: float = 0.0
    feeds: list[str] = msgspec.field(default_factory=list)
    categories: list[str] = msgspec.field(default_factory=list)
    v4_prefixes: list[int] = msgspec.field(default_factory=list)
    v6_prefixes: list[int] = msgspec.field(default_factory=list)
    counts: dict[str, int] = msgspec.field(default_factory=dict)
    rejected: int = 0
    single_label_names: bool = False  # a name key without a dot exists (``*.com``)
    ip_names: bool = False            # a name key that is an IP host exists (``1.2.3.4/x/*``)
    www_names: bool = False           # a name key starting with ``www.`` exists
    allow_feeds: list[int] = msgspec.field(default_factory=list)  # feeds that are allow lists
    substrings: list[StoredRecord] = msgspec.field(default_factory=list)  # allow substrings


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of acyclic objects are made.

    A build allocates one record and one list per indicator and no cycles; the
    collector's full passes over that growing heap cost a third of the build time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class SnapshotSource(Protocol):
    """What publishing needs: the meta block and the sorted, encoded entries."""

    rejected: int
    reject_samples: list[str]

    def meta(self, version: int) -> SnapshotMeta: ...

    def entries(self, space: str) -> Iterator[tuple[bytes, bytes]]: ...

    def __len__(self) -> int: ...


class SnapshotBuilder:
    """Collects indicator records; ``entries()`` yields them grouped and sorted per key space."""

    def __init__(self, *, feeds: Iterable[str] = (), categories: Iterable[str] = ()) -> None:
        """``feeds`` and ``categories`` pre-assign interned numbers (parallel builds)."""
        self._spaces: dict[str, dict[bytes, list[StoredRecord]]] = {s: {} for s in SPACES}
        self._feeds: dict[str, int] = {name: i for i, name in enumerate(dict.fromkeys(feeds))}
        self._categories: dict[str, int] = {
            name: i for i, name in enumerate(dict.fromkeys(categories))}
        self._v4: set[int] = set()
        self._v6: set[int] = set()
        self._names: dict[bytes, tuple[list[StoredRecord], ...]] = {}
        self._single_label_names = False
        self._ip_names = False
        self._www_names = False
        self._counts: dict[Kind, int] = dict.fromkeys(Kind, 0)
        self._allow_feeds: set[int] = set()
        self._last_context: tuple[object, Any] = (None, _EMPTY_CONTEXT)
        self._substrings: list[StoredRecord] = []
        self.rejected = 0
        self.reject_samples: list[str] = []

    def add(self, record: IndicatorRecord) -> bool:
        """Add one record; a value that is not a valid indicator is counted, not raised."""
        if record.allow and record.kind == SUBSTRING:
            return self._add_substring(record)
        try:
            kind, value = normalize(record.value, record.kind)
        except (InvalidIndicator, ValueError) as exc:
            self._reject(str(exc))
            return False
        # The hot path of every build: kept flat on purpose (bench/index_bench.py).
        space, key, role = self._place(kind, value)
        feed = self._feeds.get(record.feed)
        if feed is None:
            feed = self._feeds[record.feed] = len(self._feeds)
        category = self._categories.get(record.category)
        if category is None:
            category = self._categories[record.category] = len(self._categories)
        if record.allow:
            self._allow_feeds.add(feed)
        stored = StoredRecord(
            feed,
            category,
            # The pattern is spelled by the key itself except for masks and long URLs.
            value if role >= 2 or space == "pmask" or key[0] == 0 else "",
            record.first_seen,
            record.last_seen,
            record.valid_until,
            record.confidence,
            self._context(record.context),
        )
        if role >= 0:
            roles = self._names.get(key)
            if roles is None:
                roles = self._names[key] = ([], [], [], [])
            roles[role].append(stored)
        else:
            table = self._spaces[space]
            entries = table.get(key)
            if entries is None:
                table[key] = [stored]
            else:
                entries.append(stored)
        self._counts[kind] += 1
        return True

    def _context(self, context: dict[str, Any]) -> Any:
        """The context, msgpack-encoded once: a dict costs ten times its bytes in memory.

        Records of one feed entry often share one context dict (a vendor record
        with a URL and three hashes): the last one's encoding is reused.
        """
        if context is self._last_context[0]:
            return self._last_context[1]
        raw = msgspec.Raw(ENTRY_ENCODER.encode(context)) if context else _EMPTY_CONTEXT
        self._last_context = (context, raw)
        return raw

    def _reject(self, reason: str) -> None:
        self.rejected += 1
        if len(self.reject_samples) < MAX_REJECT_SAMPLES:
            self.reject_samples.append(reason)

    def _add_substring(self, record: IndicatorRecord) -> bool:
        text = record.value.strip().lower()
        if not text:
            self._reject(f"empty allow-list substring in {record.feed}")
            return False
        feed = self._feeds.setdefault(record.feed, len(self._feeds))
        category = self._categories.setdefault(record.category, len(self._categories))
        self._allow_feeds.add(feed)
        self._substrings.append(StoredRecord(feed, category, text, None, None, None, None,
                                             record.context))
        return True

    def add_all(self, records: Iterable[IndicatorRecord]) -> int:
        """Add many records; returns how many were accepted."""
        with gc_paused():
            return sum(self.add(record) for record in records)

    def _place(self, kind: Kind, value: str) -> tuple[str, bytes, int]:
        """Key space, key and (in the ``name`` space) role of a canonical indicator."""
        if kind in (Kind.MD5, Kind.SHA1, Kind.SHA256):
            return "hash", hash_key(value), -1
        if kind is Kind.IPV4:
            return "ip", _PREFIX_32 + socket.inet_aton(value), -1
        if kind in (Kind.IPV6, Kind.CIDR):
            version, network, prefix = network_of(Indicator(kind, value))
            (self._v4 if version == 4 else self._v6).add(prefix)
            space = "cidr" if kind is Kind.CIDR else "ip"
            return space, ip_key(version, network, prefix), -1
        if kind is Kind.DOMAIN:
            return "name", self._name_key(value), ROLE_DOMAIN
        if kind is Kind.EMAIL:
            return "email", text_key(value), -1
        if kind is Kind.URL:
            url = split_canonical(value)
            if url.value == url.host:
                return "name", self._name_key(url.host), ROLE_URL
            return "url", text_key(value), -1
        shape = shape_of(value)  # value is canonical already: split it, don't parse again
        if shape.mode == HostMode.EXACT:
            return "name", self._name_key(shape.anchor), ROLE_MASK
        if shape.mode == HostMode.SUBDOMAIN:
            return "name", self._name_key(shape.anchor), ROLE_SUBMASK
        return "pmask", text_key(shape.text), -1

    def _name_key(self, name: str) -> bytes:
        if name[0] == "[" or name[-1].isdigit():
            self._ip_names = True
        elif "." not in name:
            self._single_label_names = True
        elif name.startswith("www."):
            self._www_names = True
        return name.encode()

    def meta(self, version: int) -> SnapshotMeta:
        """The meta block for a snapshot of this content with the given version."""
        return SnapshotMeta(
            version=version,
            created=time.time(),
            feeds=list(self._feeds),
            categories=list(self._categories),
            v4_prefixes=sorted(self._v4 | ({32} if self._counts[Kind.IPV4] else set()),
                               reverse=True),
            v6_prefixes=sorted(self._v6, reverse=True),
            counts=self.counts,
            rejected=self.rejected,
            single_label_names=self._single_label_names,
            ip_names=self._ip_names,
            www_names=self._www_names,
            allow_feeds=sorted(self._allow_feeds),
            substrings=self._substrings,
        )

    def entries(self, space: str) -> Iterator[tuple[bytes, bytes]]:
        """Encoded ``(key, entry)`` pairs of one key space in key order."""
        if space == "name":
            names = self._names
            for key in sorted(names):
                yield key, ENTRY_ENCODER.encode(NameEntry(*names[key]))
            return
        table = self._spaces[space]
        for key in sorted(table):
            yield key, ENTRY_ENCODER.encode(Entry(0, table[key]))

    @property
    def counts(self) -> dict[str, int]:
        """Accepted records per kind (kinds with none left out)."""
        counts = {kind.value: n for kind, n in self._counts.items() if n}
        if self._substrings:
            counts[SUBSTRING] = len(self._substrings)
        return counts

    def __len__(self) -> int:
        return sum(self._counts.values()) + len(self._substrings)

    def keys(self) -> int:
        """Distinct keys over all key spaces."""
        return len(self._names) + sum(len(table) for table in self._spaces.values())

    def stats(self) -> dict[str, Any]:
        """Counts per kind, rejected values and a few samples of the reasons."""
        return {"counts": self.counts, "rejected": self.rejected,
                "reject_samples": list(self.reject_samples)}
