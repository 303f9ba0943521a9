"""Shard runs: a built part of a snapshot, kept on disk, merged with others into one.

A shard is what one builder made of some records (one feed, or one slice of a
big build): per key space, a run file of ``(key, entry)`` pairs in key order,
plus the builder's meta block. ``write_shard`` stores a builder as a shard in a
folder; ``load_shard`` reads it back; ``RunMerge`` merges any number of shards
into the sorted entry stream a snapshot file is written from, renumbering
feeds and categories where two shards interned them differently.

The feed updater keeps each feed's last good shard, so an update of one feed
re-parses that feed only and merges the rest from disk.
"""

from __future__ import annotations

import heapq
import os
import struct
import time
from collections.abc import Iterator, Sequence
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO

import msgspec

from trapline.errors import SnapshotError
from trapline.index.build import MAX_REJECT_SAMPLES, SnapshotBuilder, SnapshotMeta
from trapline.index.keys import SPACES
from trapline.index.records import (
    ENTRY_DECODER,
    ENTRY_ENCODER,
    NAME_DECODER,
    Entry,
    NameEntry,
    StoredRecord,
)

_FRAME = struct.Struct("<I")
_CHUNK = 50_000
SHARD_META = "shard.msgpack"


class ShardRun(msgspec.Struct):
    """A shard on disk: its folder, its run file per key space and its meta block."""

    folder: str
    runs: dict[str, str]
    meta: SnapshotMeta
    reject_samples: list[str]
    count: int

    def run_path(self, space: str) -> Path:
        return Path(self.folder) / self.runs[space]


def write_shard(builder: SnapshotBuilder, folder: Path, *, durable: bool = True) -> ShardRun:
    """Write a builder's entries as run files in ``folder`` and return the shard.

    ``durable`` fsyncs every file (a feed's kept shard); scratch shards skip it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    runs = {}
    for space in SPACES:
        name = f"{space}.run"
        _write_run(folder / name, builder.entries(space), durable)
        runs[space] = name
    shard = ShardRun(str(folder), runs, builder.meta(0), builder.reject_samples, len(builder))
    _write_file(folder / SHARD_META, msgspec.msgpack.encode(shard), durable)
    return shard


def load_shard(folder: Path) -> ShardRun:
    """The shard stored in ``folder`` by ``write_shard``; SnapshotError if unreadable."""
    try:
        shard = msgspec.msgpack.decode((folder / SHARD_META).read_bytes(), type=ShardRun)
    except (OSError, msgspec.DecodeError) as exc:
        raise SnapshotError(f"unreadable shard in {folder}: {exc}") from exc
    shard.folder = str(folder)  # the folder may have been renamed since it was written
    missing = [s for s in SPACES if s not in shard.runs or not shard.run_path(s).is_file()]
    if missing:
        raise SnapshotError(f"shard in {folder} lacks run files for {', '.join(missing)}")
    return shard


def _write_run(path: Path, pairs: Iterator[tuple[bytes, bytes]], durable: bool) -> None:
    with open(path, "wb") as handle:
        chunk: list[tuple[bytes, bytes]] = []
        for pair in pairs:
            chunk.append(pair)
            if len(chunk) == _CHUNK:
                _write_frame(handle, chunk)
                chunk = []
        if chunk:
            _write_frame(handle, chunk)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())


def _write_file(path: Path, data: bytes, durable: bool) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())


def _write_frame(handle: BinaryIO, chunk: list[tuple[bytes, bytes]]) -> None:
    data = msgspec.msgpack.encode(chunk)
    handle.write(_FRAME.pack(len(data)))
    handle.write(data)


def _read_run(path: Path) -> Iterator[tuple[bytes, bytes]]:
    decoder = msgspec.msgpack.Decoder(list[tuple[bytes, bytes]])
    with open(path, "rb") as handle:
        while header := handle.read(_FRAME.size):
            (size,) = _FRAME.unpack(header)
            yield from decoder.decode(handle.read(size))


class RunMerge:
    """Several shards merged into one snapshot source; publish it like a SnapshotBuilder."""

    def __init__(self, shards: Sequence[ShardRun]) -> None:
        self.shards = list(shards)
        feeds: dict[str, int] = {}
        categories: dict[str, int] = {}
        self._maps: list[tuple[list[int], list[int]] | None] = []
        for shard in self.shards:
            feed_map = [feeds.setdefault(n, len(feeds)) for n in shard.meta.feeds]
            category_map = [categories.setdefault(n, len(categories))
                            for n in shard.meta.categories]
            identity = feed_map == list(range(len(feed_map))) and category_map == list(
                range(len(category_map)))
            self._maps.append(None if identity else (feed_map, category_map))
        metas = [s.meta for s in self.shards]
        counts: dict[str, int] = {}
        for meta in metas:
            for kind, n in meta.counts.items():
                counts[kind] = counts.get(kind, 0) + n
        allow: set[int] = set()
        substrings: list[StoredRecord] = []
        for meta, mapping in zip(metas, self._maps, strict=True):
            feed_map, category_map = mapping or (list(range(len(meta.feeds))),
                                                 list(range(len(meta.categories))))
            allow.update(feed_map[f] for f in meta.allow_feeds)
            substrings += _renumber(meta.substrings, feed_map, category_map)
        self._meta = SnapshotMeta(
            feeds=list(feeds),
            categories=list(categories),
            v4_prefixes=sorted({p for m in metas for p in m.v4_prefixes}, reverse=True),
            v6_prefixes=sorted({p for m in metas for p in m.v6_prefixes}, reverse=True),
            counts=counts,
            rejected=sum(m.rejected for m in metas),
            single_label_names=any(m.single_label_names for m in metas),
            ip_names=any(m.ip_names for m in metas),
            www_names=any(m.www_names for m in metas),
            allow_feeds=sorted(allow),
            substrings=substrings,
        )
        self.rejected = self._meta.rejected
        self.reject_samples = [s for r in self.shards for s in r.reject_samples]
        self.reject_samples = self.reject_samples[:MAX_REJECT_SAMPLES]
        self.counts = counts

    def __len__(self) -> int:
        return sum(s.count for s in self.shards)

    def meta(self, version: int) -> SnapshotMeta:
        """The merged meta block, stamped with ``version``."""
        return msgspec.structs.replace(self._meta, version=version, created=time.time())

    def entries(self, space: str) -> Iterator[tuple[bytes, bytes]]:
        """Merged ``(key, entry)`` pairs of one key space in key order."""
        streams = [self._stream(i, space) for i in range(len(self.shards))]
        if not streams:
            return
        merged = heapq.merge(*streams, key=itemgetter(0)) if len(streams) > 1 else streams[0]
        for key, group in groupby(merged, key=itemgetter(0)):
            values = [value for _, value in group]
            yield key, values[0] if len(values) == 1 else _combine(space, values)

    def _stream(self, index: int, space: str) -> Iterator[tuple[bytes, bytes]]:
        mapping = self._maps[index]
        pairs = _read_run(self.shards[index].run_path(space))
        if mapping is None:
            return pairs
        return ((key, _remap(space, value, *mapping)) for key, value in pairs)


def _renumber(records: list[StoredRecord], feeds: list[int],
              categories: list[int]) -> list[StoredRecord]:
    return [msgspec.structs.replace(r, feed=feeds[r.feed], category=categories[r.category])
            for r in records]


def _remap(space: str, value: bytes, feeds: list[int], categories: list[int]) -> bytes:
    if space == "name":
        entry = NAME_DECODER.decode(value)
        return ENTRY_ENCODER.encode(NameEntry(*(_renumber(getattr(entry, f), feeds, categories)
                                                for f in entry.__struct_fields__)))
    plain = ENTRY_DECODER.decode(value)
    return ENTRY_ENCODER.encode(Entry(plain.flags, _renumber(plain.records, feeds, categories)))


def _combine(space: str, values: list[bytes]) -> bytes:
    if space == "name":
        entries = [NAME_DECODER.decode(v) for v in values]
        return ENTRY_ENCODER.encode(NameEntry(*(
            [r for e in entries for r in getattr(e, f)] for f in NameEntry.__struct_fields__)))
    plain = [ENTRY_DECODER.decode(v) for v in values]
    return ENTRY_ENCODER.encode(Entry(0, [r for e in plain for r in e.records]))
