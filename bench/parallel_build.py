"""Build time of one snapshot: one process against ``ParallelBuild`` workers, same run.

The generated records are first written, in shards, to msgpack files (as feeds on
disk would be), so that generating synthetic data is not counted; both builds read
the same files. Prints the phases and one JSON line.

    python bench/parallel_build.py --count 10000000 --shards 8 --workers 2
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import msgspec
from generate import records

from trapline.index import IndicatorRecord, SnapshotBuilder, SnapshotCatalog
from trapline.index.parallel import ParallelBuild

_DECODER = msgspec.msgpack.Decoder(list[IndicatorRecord])


def load_shard(path: str) -> list[IndicatorRecord]:
    """Read one shard file (the stand-in for parsing one feed)."""
    return _DECODER.decode(Path(path).read_bytes())


def write_shards(count: int, shards: int, folder: Path) -> list[str]:
    """Generate ``count`` records round-robin into ``shards`` msgpack files."""
    buckets: list[list[IndicatorRecord]] = [[] for _ in range(shards)]
    for index, record in enumerate(records(count, seed=1)):
        buckets[index % shards].append(record)
    paths = []
    for index, bucket in enumerate(buckets):
        path = folder / f"shard{index:03d}.msgpack"
        path.write_bytes(msgspec.msgpack.encode(bucket))
        paths.append(str(path))
        bucket.clear()
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=None, help="scratch folder")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="parallel-build-", dir=args.out))
    try:
        started = time.perf_counter()
        paths = write_shards(args.count, args.shards, folder)
        print(f"shards written: {args.shards} files in {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        loaded = sum(len(load_shard(p)) for p in paths)
        read_s = time.perf_counter() - started
        print(f"reading the shards alone: {read_s:.1f} s ({loaded:,} records)")

        started = time.perf_counter()
        builder = SnapshotBuilder()
        for path in paths:
            builder.add_all(load_shard(path))
        single_add = time.perf_counter() - started
        SnapshotCatalog(folder / "single").publish(builder)
        single_total = time.perf_counter() - started
        del builder
        write_s = single_total - single_add
        print(f"one process:    read+add {single_add:.1f} s, write {write_s:.1f} s,"
              f" total {single_total:.1f} s")

        started = time.perf_counter()
        with ParallelBuild([functools.partial(load_shard, p) for p in paths],
                           workers=args.workers, scratch_dir=folder) as build:
            workers_s = time.perf_counter() - started
            SnapshotCatalog(folder / "parallel").publish(build)
        parallel_total = time.perf_counter() - started
        print(f"{args.workers} workers:      read+add+sort {workers_s:.1f} s, merge+write "
              f"{parallel_total - workers_s:.1f} s, total {parallel_total:.1f} s "
              f"({single_total / parallel_total:.2f}x)")
        print("JSON " + json.dumps({
            "count": args.count, "shards": args.shards, "workers": args.workers,
            "read_s": read_s, "single_add_s": single_add, "single_total_s": single_total,
            "parallel_workers_s": workers_s, "parallel_total_s": parallel_total,
            "speedup": single_total / parallel_total,
            "per_s_single": args.count / single_total,
            "per_s_parallel": args.count / parallel_total,
        }))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
