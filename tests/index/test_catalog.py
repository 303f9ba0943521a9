"""Versioned snapshot files: publish, follow, atomic swap, garbage collection, crash safety."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import trapline.index.catalog as catalog_module
from trapline.errors import SnapshotError
from trapline.index import IndicatorRecord, SnapshotBuilder, SnapshotCatalog, SnapshotFollower


def builder_of(*values: str, feed: str = "test") -> SnapshotBuilder:
    builder = SnapshotBuilder()
    builder.add_all(IndicatorRecord(value=v, feed=feed) for v in values)
    return builder


def snapshot_dir_names(catalog: SnapshotCatalog) -> set[str]:
    return {p.name for p in catalog.root.iterdir()}


def test_nothing_published_yet(tmp_path: Path) -> None:
    catalog = SnapshotCatalog(tmp_path)
    assert catalog.versions() == []
    assert catalog.current_path() is None
    with pytest.raises(SnapshotError):
        catalog.open_current()
    with pytest.raises(SnapshotError):
        SnapshotFollower(catalog).get()


def test_publish_and_open(tmp_path: Path) -> None:
    catalog = SnapshotCatalog(tmp_path)
    assert catalog.publish(builder_of("evil.example", "10.0.0.0/8")) == 1
    assert catalog.versions() == [1]
    assert catalog.current_path() == tmp_path / "snapshots" / "v00000001.lmdb"
    assert (tmp_path / "snapshots" / "CURRENT").read_text().strip() == "v00000001.lmdb"
    snapshot = catalog.open_current()
    assert snapshot.version == 1
    verdict = snapshot.lookup("a.evil.example")
    assert verdict.snapshot == 1
    assert [m.explain() for m in verdict.matches] == ["parent-domain evil.example"]
    assert snapshot.lookup("10.9.9.9").detected
    assert snapshot_dir_names(catalog) == {"v00000001.lmdb", "CURRENT"}


def test_follower_switches_to_the_new_version(tmp_path: Path) -> None:
    catalog = SnapshotCatalog(tmp_path)
    catalog.publish(builder_of("one.example"))
    follower = SnapshotFollower(catalog)
    first = follower.get()
    assert first.version == 1
    assert follower.get() is first  # no change: the same snapshot object
    assert catalog.publish(builder_of("two.example")) == 2
    second = follower.get()
    assert second.version == 2
    assert second.lookup("two.example").detected
    assert not second.lookup("one.example").detected
    assert follower.get() is second


def test_old_snapshot_keeps_answering_with_its_own_version(tmp_path: Path) -> None:
    catalog = SnapshotCatalog(tmp_path)
    catalog.publish(builder_of("one.example"))
    old = catalog.open_current()
    catalog.publish(builder_of("two.example"))
    catalog.publish(builder_of("three.example"))  # v1's file is removed now
    assert not (catalog.root / "v00000001.lmdb").exists()
    verdict = old.lookup("one.example")
    assert verdict.snapshot == 1
    assert [m.pattern for m in verdict.matches] == ["one.example"]
    assert old.lookup("three.example").matches == []
    assert old.lookup_many(["one.example", "two.example"])[1].snapshot == 1
    new = catalog.open_current()
    assert new.version == 3
    assert new.lookup("three.example").detected
    assert not new.lookup("one.example").detected


def test_only_the_newest_two_files_remain(tmp_path: Path) -> None:
    catalog = SnapshotCatalog(tmp_path)
    for n in range(1, 6):
        assert catalog.publish(builder_of(f"v{n}.example")) == n
        assert catalog.versions() == list(range(max(1, n - 1), n + 1))
    assert snapshot_dir_names(catalog) == {"v00000004.lmdb", "v00000005.lmdb", "CURRENT"}


def test_rapid_publishes_are_all_noticed(tmp_path: Path) -> None:
    catalog = SnapshotCatalog(tmp_path)
    follower = SnapshotFollower(catalog)
    for n in range(1, 31):
        assert catalog.publish(builder_of(f"s{n}.example")) == n
        snapshot = follower.get()
        assert snapshot.version == n
        assert snapshot.lookup(f"s{n}.example").detected


def _half_write_then_fail(calls: list[Path]):
    real = catalog_module.write_lmdb

    def write(builder: SnapshotBuilder, path: Path, meta_bytes: bytes) -> None:
        calls.append(Path(path))
        real(builder, path, meta_bytes)
        size = os.path.getsize(path)
        with open(path, "r+b") as handle:
            handle.truncate(size // 2)
        raise OSError(28, "No space left on device (simulated)")

    return write


def test_crash_mid_publish_leaves_the_old_version(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = SnapshotCatalog(tmp_path)
    catalog.publish(builder_of("old.example"))
    follower = SnapshotFollower(catalog)
    assert follower.get().version == 1

    calls: list[Path] = []
    monkeypatch.setattr(catalog_module, "write_lmdb", _half_write_then_fail(calls))
    with pytest.raises(OSError):
        catalog.publish(builder_of("new.example"))
    assert len(calls) == 1
    assert calls[0].parent == catalog.root
    assert not calls[0].name.startswith("v")  # written under a temporary name

    assert catalog.current_path() == catalog.root / "v00000001.lmdb"
    assert catalog.versions() == [1]
    snapshot = follower.get()
    assert snapshot.version == 1
    assert snapshot.lookup("old.example").detected

    monkeypatch.undo()
    assert catalog.publish(builder_of("new.example")) == 2
    assert snapshot_dir_names(catalog) == {"v00000001.lmdb", "v00000002.lmdb", "CURRENT"}
    current = follower.get()
    assert current.version == 2
    assert current.lookup("new.example").detected


def test_crash_while_pointing_leaves_the_old_version(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = SnapshotCatalog(tmp_path)
    catalog.publish(builder_of("old.example"))

    def fail(name: str) -> None:
        raise OSError(5, "I/O error (simulated)")

    monkeypatch.setattr(catalog, "_point_to", fail)
    with pytest.raises(OSError):
        catalog.publish(builder_of("new.example"))
    assert catalog.open_current().version == 1
    assert catalog.open_current().lookup("old.example").detected
    monkeypatch.undo()
    version = catalog.publish(builder_of("newer.example"))
    assert catalog.open_current().version == version
    assert catalog.open_current().lookup("newer.example").detected
    assert all(not name.startswith(".build") for name in snapshot_dir_names(catalog))


def test_stray_temp_files_are_collected(tmp_path: Path) -> None:
    catalog = SnapshotCatalog(tmp_path)
    catalog.publish(builder_of("a.example"))
    stray = catalog.root / ".build-leftover"
    stray.write_bytes(b"half a snapshot")
    catalog.publish(builder_of("b.example"))
    assert not stray.exists()
    assert snapshot_dir_names(catalog) == {"v00000001.lmdb", "v00000002.lmdb", "CURRENT"}


def test_corrupt_pointer_is_a_snapshot_error(tmp_path: Path) -> None:
    catalog = SnapshotCatalog(tmp_path)
    catalog.publish(builder_of("a.example"))
    catalog.pointer.write_text("../../etc/passwd\n")
    with pytest.raises(SnapshotError):
        catalog.open_current()


def test_truncated_snapshot_file_is_a_snapshot_error(tmp_path: Path) -> None:
    catalog = SnapshotCatalog(tmp_path)
    catalog.publish(builder_of("a.example"))
    path = catalog.current_path()
    assert path is not None
    path.write_bytes(b"\0" * 100)
    with pytest.raises(SnapshotError):
        catalog.open_current()


def test_two_followers_in_one_process(tmp_path: Path) -> None:
    # Each worker thread may hold its own follower; both see the snapshot in force.
    catalog = SnapshotCatalog(tmp_path)
    catalog.publish(builder_of("a.example"))
    first, second = SnapshotFollower(catalog), SnapshotFollower(catalog)
    assert first.get().version == 1
    assert second.get().version == 1
    assert second.get().lookup("a.example").detected


def test_follower_survives_pointer_rewritten_with_the_same_name(tmp_path: Path) -> None:
    # CURRENT replaced by an identical pointer (a retried publish step, a restore, a touch):
    # the follower must keep serving, not fail on every later lookup.
    catalog = SnapshotCatalog(tmp_path)
    catalog.publish(builder_of("a.example"))
    follower = SnapshotFollower(catalog)
    assert follower.get().version == 1
    replacement = catalog.root / "CURRENT.new"
    replacement.write_text("v00000001.lmdb\n")
    os.replace(replacement, catalog.pointer)
    assert follower.get().version == 1
    assert follower.get().lookup("a.example").detected
    catalog.publish(builder_of("b.example"))
    assert follower.get().version == 2


def test_snapshot_of_another_format_is_refused(tmp_path) -> None:
    import msgspec

    from trapline.errors import SnapshotError
    from trapline.index import Snapshot, SnapshotBuilder
    from trapline.index.memory_backend import MemoryBackend

    builder = SnapshotBuilder()
    meta = msgspec.structs.replace(builder.meta(1), format=99)
    with pytest.raises(SnapshotError, match="format 99"):
        Snapshot(MemoryBackend(builder, msgspec.msgpack.encode(meta)))
    with pytest.raises(SnapshotError, match="unreadable"):
        Snapshot(MemoryBackend(builder, b"\xc1garbage"))
