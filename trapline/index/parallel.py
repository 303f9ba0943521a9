"""Building one snapshot with several processes.

Each worker builds a ``SnapshotBuilder`` from its shards (a shard is a picklable
callable returning records: a feed file and its parser, a slice of a generator),
then writes each key space, sorted and encoded, to a run file in a scratch folder.
The parent merges the runs of all shards in key order, combining entries that
several shards hold for one key, and hands the merged stream to the LMDB writer.
Normalizing and grouping, the costly part, so runs on every core; the parent's
merge touches each entry once more.

Feed and category numbers are interned per worker; names passed in advance
(``feeds``, ``categories``) get the same numbers everywhere, so the merge only
re-encodes entries of shards that met a name first.
"""

from __future__ import annotations

import heapq
import multiprocessing
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO

import msgspec

from trapline.index.build import MAX_REJECT_SAMPLES, SnapshotBuilder, SnapshotMeta
from trapline.index.keys import SPACES
from trapline.index.records import (
    ENTRY_DECODER,
    ENTRY_ENCODER,
    NAME_DECODER,
    Entry,
    IndicatorRecord,
    NameEntry,
    StoredRecord,
)

Shard = Callable[[], Iterable[IndicatorRecord]]
_FRAME = struct.Struct("<I")
_CHUNK = 50_000


class _ShardResult(msgspec.Struct):
    runs: dict[str, str]
    meta: SnapshotMeta
    reject_samples: list[str]
    count: int


def _write_run(path: Path, pairs: Iterator[tuple[bytes, bytes]]) -> None:
    with open(path, "wb") as handle:
        chunk: list[tuple[bytes, bytes]] = []
        for pair in pairs:
            chunk.append(pair)
            if len(chunk) == _CHUNK:
                _write_frame(handle, chunk)
                chunk = []
        if chunk:
            _write_frame(handle, chunk)


def _write_frame(handle: BinaryIO, chunk: list[tuple[bytes, bytes]]) -> None:
    data = msgspec.msgpack.encode(chunk)
    handle.write(_FRAME.pack(len(data)))
    handle.write(data)


def _read_run(path: str) -> Iterator[tuple[bytes, bytes]]:
    decoder = msgspec.msgpack.Decoder(list[tuple[bytes, bytes]])
    with open(path, "rb") as handle:
        while header := handle.read(_FRAME.size):
            (size,) = _FRAME.unpack(header)
            yield from decoder.decode(handle.read(size))


def _build_shard(shard: Shard, index: int, scratch: str, feeds: list[str],
                 categories: list[str]) -> _ShardResult:
    builder = SnapshotBuilder(feeds=feeds, categories=categories)
    builder.add_all(shard())
    runs = {}
    for space in SPACES:
        path = Path(scratch) / f"shard{index:04d}-{space}.run"
        _write_run(path, builder.entries(space))
        runs[space] = str(path)
    return _ShardResult(runs, builder.meta(0), builder.reject_samples, len(builder))


class ParallelBuild:
    """A snapshot source built by worker processes; publish it like a SnapshotBuilder.

    ``with ParallelBuild(shards, workers=2) as build: catalog.publish(build)``
    """

    def __init__(self, shards: Sequence[Shard], *, workers: int | None = None,
                 feeds: Iterable[str] = (), categories: Iterable[str] = (),
                 scratch_dir: Path | None = None) -> None:
        self._scratch = tempfile.mkdtemp(prefix="trapline-build-", dir=scratch_dir)
        seeded_feeds, seeded_categories = list(feeds), list(categories)
        context = multiprocessing.get_context("spawn")
        workers = max(1, min(workers or os.cpu_count() or 1, len(shards)))
        try:
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                futures = [pool.submit(_build_shard, shard, i, self._scratch, seeded_feeds,
                                       seeded_categories) for i, shard in enumerate(shards)]
                self._results = [future.result() for future in futures]
        except BaseException:
            self.close()
            raise
        self._merge_meta()

    def _merge_meta(self) -> None:
        feeds: dict[str, int] = {}
        categories: dict[str, int] = {}
        self._maps: list[tuple[list[int], list[int]] | None] = []
        for result in self._results:
            feed_map = [feeds.setdefault(n, len(feeds)) for n in result.meta.feeds]
            category_map = [categories.setdefault(n, len(categories))
                            for n in result.meta.categories]
            identity = feed_map == list(range(len(feed_map))) and category_map == list(
                range(len(category_map)))
            self._maps.append(None if identity else (feed_map, category_map))
        metas = [r.meta for r in self._results]
        counts: dict[str, int] = {}
        for meta in metas:
            for kind, n in meta.counts.items():
                counts[kind] = counts.get(kind, 0) + n
        self._meta = SnapshotMeta(
            feeds=list(feeds),
            categories=list(categories),
            v4_prefixes=sorted({p for m in metas for p in m.v4_prefixes}, reverse=True),
            v6_prefixes=sorted({p for m in metas for p in m.v6_prefixes}, reverse=True),
            counts=counts,
            rejected=sum(m.rejected for m in metas),
            single_label_names=any(m.single_label_names for m in metas),
            ip_names=any(m.ip_names for m in metas),
        )
        self.rejected = self._meta.rejected
        self.reject_samples = [s for r in self._results for s in r.reject_samples]
        self.reject_samples = self.reject_samples[:MAX_REJECT_SAMPLES]
        self.counts = counts

    def __len__(self) -> int:
        return sum(r.count for r in self._results)

    def meta(self, version: int) -> SnapshotMeta:
        """The merged meta block, stamped with ``version``."""
        return msgspec.structs.replace(self._meta, version=version,
                                       created=time.time())

    def entries(self, space: str) -> Iterator[tuple[bytes, bytes]]:
        """Merged ``(key, entry)`` pairs of one key space in key order."""
        streams = [self._stream(i, space) for i in range(len(self._results))]
        merged = heapq.merge(*streams, key=itemgetter(0)) if len(streams) > 1 else streams[0]
        for key, group in groupby(merged, key=itemgetter(0)):
            values = [value for _, value in group]
            yield key, values[0] if len(values) == 1 else _combine(space, values)

    def _stream(self, index: int, space: str) -> Iterator[tuple[bytes, bytes]]:
        mapping = self._maps[index]
        pairs = _read_run(self._results[index].runs[space])
        if mapping is None:
            return pairs
        return ((key, _remap(space, value, *mapping)) for key, value in pairs)

    def close(self) -> None:
        """Remove the scratch folder of run files."""
        shutil.rmtree(self._scratch, ignore_errors=True)

    def __enter__(self) -> ParallelBuild:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
