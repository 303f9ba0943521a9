"""The snapshot index: build, publish, follow and look up; no I/O but the snapshot file."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import msgspec

from trapline.index.build import SnapshotBuilder, SnapshotMeta
from trapline.index.catalog import SnapshotCatalog, SnapshotFollower
from trapline.index.lmdb_backend import open_lmdb, write_lmdb
from trapline.index.memory_backend import MemoryBackend
from trapline.index.records import IndicatorRecord
from trapline.index.snapshot import Snapshot
from trapline.index.verdict import Match, Verdict

__all__ = [
    "IndicatorRecord",
    "Match",
    "Snapshot",
    "SnapshotBuilder",
    "SnapshotCatalog",
    "SnapshotFollower",
    "SnapshotMeta",
    "Verdict",
    "build_lmdb_snapshot",
    "build_memory_snapshot",
]


def build_memory_snapshot(records: Iterable[IndicatorRecord] | SnapshotBuilder,
                          version: int = 0) -> Snapshot:
    """A private, in-process snapshot of ``records`` (throwaway lookups, tests)."""
    builder = _builder(records)
    return Snapshot(MemoryBackend(builder, msgspec.msgpack.encode(builder.meta(version))))


def build_lmdb_snapshot(records: Iterable[IndicatorRecord] | SnapshotBuilder, path: Path,
                        version: int = 0) -> Snapshot:
    """Write ``records`` to a new LMDB snapshot file at ``path`` and open it."""
    builder = _builder(records)
    write_lmdb(builder, Path(path), msgspec.msgpack.encode(builder.meta(version)))
    return Snapshot(open_lmdb(Path(path)))


def _builder(records: Iterable[IndicatorRecord] | SnapshotBuilder) -> SnapshotBuilder:
    if isinstance(records, SnapshotBuilder):
        return records
    builder = SnapshotBuilder()
    builder.add_all(records)
    return builder
