"""Profile the snapshot build (``SnapshotBuilder.add`` + LMDB write) with cProfile.

    python bench/profile_build.py --count 200000
    python -m cProfile -s cumtime bench/profile_build.py --count 200000 --no-profile

The records are generated into a list first; by default only the build is
profiled (``cProfile.Profile`` around add + publish) and the top functions by
cumulative and by total (own) time are printed as Markdown tables with file:line.
With ``--no-profile`` the script just builds, for ``python -m cProfile`` to profile
the whole run (generation included).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

from generate import records

from trapline.index import IndicatorRecord, SnapshotBuilder, SnapshotCatalog


def build(recs: list[IndicatorRecord], data_dir: Path) -> tuple[float, float]:
    """Add every record and publish an LMDB snapshot; (add seconds, write seconds)."""
    builder = SnapshotBuilder()
    start = time.perf_counter()
    for record in recs:
        builder.add(record)
    added = time.perf_counter()
    SnapshotCatalog(data_dir).publish(builder)
    return added - start, time.perf_counter() - added


def _where(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    if filename == "~":
        return name
    for marker in ("/trapline/", "/site-packages/", "/lib/python3"):
        if marker in filename:
            filename = filename[filename.index(marker) + 1:]
            break
    return f"{filename}:{line}({name})"


def top_table(stats: pstats.Stats, sort: str, limit: int) -> str:
    """Markdown table of the ``limit`` top functions by ``sort`` ("cumulative"/"tottime")."""
    raw = stats.stats  # type: ignore[attr-defined]
    index = 3 if sort == "cumulative" else 2
    ranked = sorted(raw.items(), key=lambda item: item[1][index], reverse=True)[:limit]
    lines = ["| # | function (file:line) | calls | tottime s | cumtime s |",
             "|---|---|---:|---:|---:|"]
    for rank, (key, (_cc, nc, tt, ct, _callers)) in enumerate(ranked, 1):
        lines.append(f"| {rank} | `{_where(key)}` | {nc:,} | {tt:.3f} | {ct:.3f} |")
    return "\n".join(lines)


def main() -> int:
    """Generate, build under the profiler, print the top lists."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--no-profile", action="store_true",
                        help="no profiler of its own (for python -m cProfile)")
    parser.add_argument("--stats", type=Path, help="also save the pstats file here")
    args = parser.parse_args()

    recs = list(records(args.count))
    with tempfile.TemporaryDirectory(prefix="trapline-profile-") as scratch:
        if args.no_profile:
            add_s, write_s = build(recs, Path(scratch))
            print(f"add {add_s:.2f} s, write {write_s:.2f} s for {args.count:,} records")
            return 0
        profiler = cProfile.Profile()
        profiler.enable()
        add_s, write_s = build(recs, Path(scratch))
        profiler.disable()
    print(f"profiled build of {args.count:,} records: add {add_s:.2f} s, "
          f"write {write_s:.2f} s (with profiler overhead)\n")
    stats = pstats.Stats(profiler)
    if args.stats:
        stats.dump_stats(args.stats)
    print(f"Top {args.top} by cumulative time\n\n{top_table(stats, 'cumulative', args.top)}\n")
    print(f"Top {args.top} by total (own) time\n\n{top_table(stats, 'tottime', args.top)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
