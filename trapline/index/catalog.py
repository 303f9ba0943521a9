"""Versioned snapshot files in a data directory, published and swapped atomically.

Layout under ``DATA_DIR/snapshots/``: ``v00000007.lmdb`` (immutable snapshot
files) and ``CURRENT`` (the name of the one in force). ``publish`` writes a new
file under a temporary name, fsyncs it, renames it into place and then replaces
``CURRENT`` with ``os.replace``: a reader sees the old name or the new one,
never a half-written file. Readers (``SnapshotFollower``) notice the change on
their next lookup and switch; the old file stays mapped until they drop it, and
unlinking it does not disturb them.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import msgspec

from trapline.errors import SnapshotError
from trapline.index.build import SnapshotSource
from trapline.index.lmdb_backend import open_lmdb, write_lmdb
from trapline.index.snapshot import Snapshot

_NAME = re.compile(r"^v(\d{8})\.lmdb$")
KEEP = 2


class SnapshotCatalog:
    """The snapshot files of one data directory."""

    def __init__(self, data_dir: Path | str) -> None:
        self.root = Path(data_dir) / "snapshots"

    @property
    def pointer(self) -> Path:
        return self.root / "CURRENT"

    def versions(self) -> list[int]:
        """Versions of the snapshot files present, oldest first."""
        if not self.root.is_dir():
            return []
        found = (_NAME.match(p.name) for p in self.root.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def current_path(self) -> Path | None:
        """Path of the snapshot in force, or None before the first publish."""
        try:
            name = self.pointer.read_text().strip()
        except FileNotFoundError:
            return None
        if not _NAME.match(name):
            raise SnapshotError(f"{self.pointer} names no snapshot: {name!r}")
        return self.root / name

    def publish(self, builder: SnapshotSource) -> int:
        """Write the builder's content as the next version and make it current."""
        version = self.prepare(builder)
        self.activate(version)
        return version

    def prepare(self, builder: SnapshotSource) -> int:
        """Write the next version's file without making it current (check it first)."""
        self.root.mkdir(parents=True, exist_ok=True)
        version = max(self.versions(), default=0) + 1
        meta = msgspec.msgpack.encode(builder.meta(version))
        final = self.path_of(version)
        fd, tmp_name = tempfile.mkstemp(prefix=".build-", dir=self.root)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            tmp.unlink()
            write_lmdb(builder, tmp, meta)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return version

    def activate(self, version: int) -> None:
        """Make a prepared version the one in force, atomically; drop old files."""
        self._point_to(self.path_of(version).name)
        self._collect(version)

    def discard(self, version: int) -> None:
        """Remove a prepared version that was never made current."""
        if self.current_path() != self.path_of(version):
            self.path_of(version).unlink(missing_ok=True)

    def path_of(self, version: int) -> Path:
        """The file of a snapshot version."""
        return self.root / f"v{version:08d}.lmdb"

    def open_version(self, version: int) -> Snapshot:
        """Open a snapshot file by version (current or only prepared)."""
        return Snapshot(open_lmdb(self.path_of(version)))

    def _point_to(self, name: str) -> None:
        tmp = self.root / ".CURRENT.tmp"
        with open(tmp, "w") as handle:
            handle.write(name + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.pointer)
        dir_fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _collect(self, current: int) -> None:
        """Remove all but the newest KEEP snapshot files (readers keep their mappings)."""
        for version in self.versions():
            if version <= current - KEEP or version > current:
                self.path_of(version).unlink(missing_ok=True)
        for stale in self.root.glob(".build-*"):
            stale.unlink(missing_ok=True)

    def open_current(self) -> Snapshot:
        """Open the snapshot in force; SnapshotError if there is none."""
        path = self.current_path()
        if path is None:
            raise SnapshotError(f"no snapshot published in {self.root}")
        return Snapshot(open_lmdb(path))


class SnapshotFollower:
    """A worker's handle on the current snapshot: switches when ``CURRENT`` changes.

    ``get()`` costs one ``stat`` call; take one snapshot per lookup or batch and
    use it throughout, so the lookup sees a single version.
    """

    def __init__(self, catalog: SnapshotCatalog) -> None:
        self.catalog = catalog
        self._stamp: tuple[int, int] | None = None
        self._snapshot: Snapshot | None = None

    def get(self) -> Snapshot:
        try:
            st = os.stat(self.catalog.pointer)
        except FileNotFoundError as exc:
            raise SnapshotError(f"no snapshot published in {self.catalog.root}") from exc
        stamp = (st.st_ino, st.st_mtime_ns)
        if stamp != self._stamp or self._snapshot is None:
            self._snapshot = self.catalog.open_current()
            self._stamp = stamp
        return self._snapshot
