"""The index tests run against both snapshot backends: in-process dicts and an LMDB file."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from trapline.index import (
    IndicatorRecord,
    Snapshot,
    SnapshotBuilder,
    build_lmdb_snapshot,
    build_memory_snapshot,
)

MakeSnapshot = Callable[..., Snapshot]


@pytest.fixture(params=["memory", "lmdb"])
def make_snapshot(request: pytest.FixtureRequest, tmp_path: Path) -> MakeSnapshot:
    """``make_snapshot(records_or_values, version=0)``: a snapshot on the parametrized backend.

    Plain strings are turned into records of feed ``test``.
    """
    counter = itertools.count()
    opened: list[Snapshot] = []

    def make(records: Iterable[IndicatorRecord | str] | SnapshotBuilder,
             version: int = 0) -> Snapshot:
        if not isinstance(records, SnapshotBuilder):
            records = [IndicatorRecord(value=r, feed="test") if isinstance(r, str) else r
                       for r in records]
        if request.param == "memory":
            snapshot = build_memory_snapshot(records, version=version)
        else:
            path = tmp_path / f"snapshot-{next(counter)}.lmdb"
            snapshot = build_lmdb_snapshot(records, path, version=version)
        opened.append(snapshot)
        return snapshot

    yield make
    for snapshot in opened:
        snapshot.close()
