"""Building one snapshot with several processes.

Each worker builds a ``SnapshotBuilder`` from its shards (a shard is a picklable
callable returning records: a feed file and its parser, a slice of a generator)
and writes it as a shard of sorted run files in a scratch folder (``runs``).
The parent merges the runs of all shards in key order (``RunMerge``) and hands
the merged stream to the LMDB writer. Normalizing and grouping, the costly
part, so runs on every core; the parent's merge touches each entry once more.

Feed and category numbers are interned per worker; names passed in advance
(``feeds``, ``categories``) get the same numbers everywhere, so the merge only
re-encodes entries of shards that met a name first.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from trapline.index.build import SnapshotBuilder, SnapshotMeta
from trapline.index.records import IndicatorRecord
from trapline.index.runs import RunMerge, ShardRun, write_shard

Shard = Callable[[], Iterable[IndicatorRecord]]


def _build_shard(shard: Shard, folder: str, feeds: list[str],
                 categories: list[str]) -> ShardRun:
    builder = SnapshotBuilder(feeds=feeds, categories=categories)
    builder.add_all(shard())
    return write_shard(builder, Path(folder), durable=False)


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
                futures = [pool.submit(_build_shard, shard,
                                       os.path.join(self._scratch, f"shard{i:04d}"),
                                       seeded_feeds, seeded_categories)
                           for i, shard in enumerate(shards)]
                self._merge = RunMerge([future.result() for future in futures])
        except BaseException:
            self.close()
            raise
        self.rejected = self._merge.rejected
        self.reject_samples = self._merge.reject_samples
        self.counts = self._merge.counts

    def __len__(self) -> int:
        return len(self._merge)

    def meta(self, version: int) -> SnapshotMeta:
        """The merged meta block, stamped with ``version``."""
        return self._merge.meta(version)

    def entries(self, space: str) -> Iterator[tuple[bytes, bytes]]:
        """Merged ``(key, entry)`` pairs of one key space in key order."""
        return self._merge.entries(space)

    def close(self) -> None:
        """Remove the scratch folder of run files."""
        shutil.rmtree(self._scratch, ignore_errors=True)

    def __enter__(self) -> ParallelBuild:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
