"""Snapshot storage in one LMDB file: memory-mapped, shared through the page cache.

A snapshot file is written once, by ``write_lmdb``, and never changed again, so
readers open it read-only without a lock file and every worker process maps
the same pages: the index costs memory once per node, not once per worker.
"""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path

import lmdb

from trapline.errors import SnapshotError
from trapline.index.build import SnapshotSource, gc_paused
from trapline.index.keys import SPACES

MAP_SIZE = 1 << 40  # address space only: the file grows with what is written
_META_KEY = b"meta"


def write_lmdb(builder: SnapshotSource, path: Path, meta_bytes: bytes) -> None:
    """Write a builder's entries and meta to a new LMDB file at ``path``, durably."""
    env = lmdb.open(str(path), subdir=False, map_size=MAP_SIZE, max_dbs=len(SPACES) + 1,
                    lock=False, sync=False, metasync=False, readahead=False)
    try:
        for space in SPACES:
            db = env.open_db(space.encode())
            with gc_paused(), env.begin(write=True, db=db) as txn:
                txn.cursor().putmulti(builder.entries(space), append=True)
        with env.begin(write=True) as txn:
            txn.put(_META_KEY, meta_bytes)
        env.sync(True)
    finally:
        env.close()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LmdbView:
    """A read transaction over the snapshot's sub-databases."""

    __slots__ = ("_dbs", "_txn")

    def __init__(self, txn: lmdb.Transaction, dbs: dict[str, lmdb._Database]) -> None:
        self._txn = txn
        self._dbs = dbs

    def get(self, space: str, key: bytes) -> bytes | None:
        return self._txn.get(key, db=self._dbs[space])

    def items(self, space: str) -> list[tuple[bytes, bytes]]:
        return list(self._txn.cursor(db=self._dbs[space]).iternext())

    def keys(self, space: str) -> list[bytes]:
        return list(self._txn.cursor(db=self._dbs[space]).iternext(keys=True, values=False))


_OPEN: weakref.WeakValueDictionary[tuple[str, int, int, int], LmdbBackend] = (
    weakref.WeakValueDictionary())
_OPEN_LOCK = threading.Lock()


def open_lmdb(path: Path) -> LmdbBackend:
    """The process's one backend for a snapshot file (LMDB maps a file once per process)."""
    try:
        st = os.stat(path)
        # A version number can be written again after a discarded prepare: the file's
        # inode, size and mtime tell a new file from the one already mapped.
        identity = (str(Path(path).resolve()), st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError as exc:
        raise SnapshotError(f"cannot open snapshot {path}: {exc}") from exc
    with _OPEN_LOCK:
        backend = _OPEN.get(identity)
        if backend is None or backend.closed:
            backend = _OPEN[identity] = LmdbBackend(path)
        return backend


class LmdbBackend:
    """A snapshot file opened read-only, without a lock file (it is immutable).

    Open it with ``open_lmdb``, which shares one instance per file and process.
    """

    def __init__(self, path: Path) -> None:
        self.closed = False
        try:
            self.env = lmdb.open(str(path), subdir=False, readonly=True, lock=False,
                                 max_dbs=len(SPACES) + 1, readahead=False)
            self.dbs = {s: self.env.open_db(s.encode(), create=False) for s in SPACES}
            with self.env.begin() as txn:
                meta = txn.get(_META_KEY)
        except lmdb.Error as exc:
            raise SnapshotError(f"cannot open snapshot {path}: {exc}") from exc
        if meta is None:
            raise SnapshotError(f"snapshot {path} has no meta block")
        self.meta_bytes = meta
        self.path = path

    def view(self) -> LmdbView:
        return LmdbView(self.env.begin(), self.dbs)

    def close(self) -> None:
        self.closed = True
        self.env.close()
