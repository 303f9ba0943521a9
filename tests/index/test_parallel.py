"""A parallel build gives the same snapshot as a single builder."""

from __future__ import annotations

import functools
from pathlib import Path

from trapline.index import IndicatorRecord, SnapshotBuilder, SnapshotCatalog
from trapline.index.parallel import ParallelBuild

VALUES = [
    "evil.example", "a.evil.example", "10.0.0.0/8", "10.1.2.3", "2001:db8::/32",
    "http://evil.example/x.php?id=1", "*.phish.example", "host.example/dir/*",
    "ev?l.example/*", "c1153422c5f68e731347f6a33f791598",
]


def shard(index: int) -> list[IndicatorRecord]:
    """Every shard repeats some values (combined at merge) under its own feed names."""
    records = [IndicatorRecord(value=v, feed=f"feed{index}", category=f"cat{index % 2}",
                               context={"shard": index}) for v in VALUES[index:]]
    records.append(IndicatorRecord(value=f"only{index}.example", feed="shared", category="c"))
    records.append(IndicatorRecord(value="not an indicator", feed="shared", category="c"))
    return records


QUERIES = ["x.evil.example", "10.1.2.3", "2001:db8::5", "http://evil.example/x.php?id=1",
           "a.phish.example", "http://host.example/dir/a", "http://evxl.example/",
           "C1153422C5F68E731347F6A33F791598", "only2.example", "nothing.example"]


def explain(snapshot, query: str) -> list[tuple[str, str, str, str, str]]:
    return sorted((m.how, m.pattern, m.feed, m.category, m.via)
                  for m in snapshot.lookup(query).matches)


def test_parallel_build_equals_single_builder(tmp_path: Path) -> None:
    single = SnapshotBuilder()
    for index in range(4):
        single.add_all(shard(index))
    SnapshotCatalog(tmp_path / "single").publish(single)
    with ParallelBuild([functools.partial(shard, i) for i in range(4)], workers=2,
                       feeds=["feed0"]) as build:
        assert len(build) == len(single)
        assert build.rejected == 4 and len(build.reject_samples) == 4
        SnapshotCatalog(tmp_path / "parallel").publish(build)
    one = SnapshotCatalog(tmp_path / "single").open_current()
    two = SnapshotCatalog(tmp_path / "parallel").open_current()
    assert one.meta.counts == two.meta.counts
    assert set(one.meta.feeds) == set(two.meta.feeds)
    for query in QUERIES:
        assert explain(one, query) == explain(two, query), query
    # All four shards hold 10.1.2.3: the merge combined them under one key.
    exact = [m for m in two.lookup("10.1.2.3").matches if m.how == "exact"]
    assert sorted(m.feed for m in exact) == ["feed0", "feed1", "feed2", "feed3"]
    assert sorted(m.context["shard"] for m in exact) == [0, 1, 2, 3]


def test_scratch_files_are_removed(tmp_path: Path) -> None:
    with ParallelBuild([functools.partial(shard, 0)], scratch_dir=tmp_path) as build:
        assert any(tmp_path.iterdir())
        SnapshotCatalog(tmp_path / "data").publish(build)
    assert [p.name for p in tmp_path.iterdir()] == ["data"]
