"""Opening a store: URLs, the data directory, SQLite's settings, writers taking turns."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from trapline.store import (
    SYSTEM,
    IndicatorInput,
    InvalidInput,
    Store,
    StoreError,
    StoreUnavailable,
    open_store,
)
from trapline.store.engine import store_url


def test_a_data_directory_is_created_on_first_start(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b"
    with open_store(folder) as store:
        assert store.dialect == "sqlite"
    assert (folder / "trapline.db").is_file()


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgres://u@h/db"])
def test_postgresql_urls_use_psycopg_3(url: str) -> None:
    assert store_url(url).drivername == "postgresql+psycopg"


@pytest.mark.parametrize("url", ["mysql://u@h/db", "sqlite://", "sqlite:///:memory:", "x://"])
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        store_url(url)


def test_an_unreachable_database_is_unavailable() -> None:
    with pytest.raises(StoreUnavailable):
        open_store("postgresql://postgres@127.0.0.1:9/none", busy_timeout=1)


def test_sqlite_connections_use_wal_full_sync_foreign_keys_and_busy_timeout(
        tmp_path: Path) -> None:
    with open_store(tmp_path, busy_timeout=7) as store, \
            store._db.engine.connect() as conn:
        pragma = conn.connection.driver_connection.execute  # type: ignore[union-attr]
        assert pragma("PRAGMA journal_mode").fetchone() == ("wal",)
        assert pragma("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert pragma("PRAGMA foreign_keys").fetchone() == (1,)
        assert pragma("PRAGMA busy_timeout").fetchone() == (7000,)


def test_a_writer_waits_for_another_process_then_gives_up(tmp_path: Path) -> None:
    """Writes begin IMMEDIATE: a held write lock delays them up to busy_timeout, a write
    that still cannot start fails cleanly, and reads go on meanwhile (WAL)."""
    other = sqlite3.connect(tmp_path / "trapline.db", isolation_level=None,
                            check_same_thread=False)
    with open_store(tmp_path, busy_timeout=0.3) as impatient, \
            open_store(tmp_path, busy_timeout=10) as patient:
        other.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            impatient.indicators.put(SYSTEM, "InternalTI", [IndicatorInput(value="a.test")])
        assert 0.25 < time.monotonic() - started < 5
        assert impatient.lists_version() == 0
        release = threading.Timer(0.2, other.execute, ("COMMIT",))
        release.start()
        patient.indicators.put(SYSTEM, "InternalTI", [IndicatorInput(value="b.test")])
        release.join()
        assert [e.value for e in impatient.list_entries("InternalTI")] == ["b.test"]
    other.close()


def test_threads_share_one_store(store: Store) -> None:
    def write(worker: int) -> None:
        for n in range(15):
            store.indicators.put(SYSTEM, "InternalTI",
                                 [IndicatorInput(value=f"{worker}-{n}.test")])
            store.lists_version()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.list_entries("InternalTI")) == 60
    assert store.lists_version() == 60


@pytest.mark.parametrize("name", ["a\x00b", "\udcff"])
def test_names_no_database_can_hold_are_refused_on_reads_too(store: Store, name: str) -> None:
    """SQLite can compare a NUL (there is no such user), PostgreSQL refuses it: either way a
    StoreError, never a driver's exception."""
    with pytest.raises(StoreError):
        store.users.get(name)
    with pytest.raises(StoreError):
        store.suppliers.get(name)
    with pytest.raises(StoreError):
        store.tags.get(name)
