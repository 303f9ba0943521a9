"""Every store test runs twice: on SQLite and on PostgreSQL.

SQLite tests get a copy of one migrated file. PostgreSQL tests share one migrated
database per session, emptied before each test; their ``store`` also shares one engine,
which saves a connection and its setup per test (``open_store`` itself is tested on both
backends in test_store_migrations, test_store_engine and test_store_processes).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from databases import postgres_database

from trapline.store import Actor, Store, open_store
from trapline.store.database import Database
from trapline.store.engine import DB_FILE, make_engine, store_url
from trapline.store.schema import metadata
from trapline.store.tenants import ensure_default

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file migrated to head (and closed: no WAL left)."""
    folder = tmp_path_factory.mktemp("template")
    open_store(folder).close()
    return folder / DB_FILE


@pytest.fixture(scope="session")
def postgres_session() -> Iterator[tuple[str, sa.Engine]]:
    """One migrated PostgreSQL database for the session, and an engine on it."""
    with postgres_database() as url:
        open_store(url).close()
        engine = make_engine(store_url(url))
        yield url, engine
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A data directory (SQLite) or URL (PostgreSQL) holding an empty, migrated store."""
    if backend == "sqlite":
        folder = tmp_path / "data"
        folder.mkdir()
        shutil.copyfile(request.getfixturevalue("sqlite_template"), folder / DB_FILE)
        return str(folder)
    url, engine = request.getfixturevalue("postgres_session")
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    return url


@pytest.fixture
def store(db_url: str, backend: str, request: pytest.FixtureRequest) -> Iterator[Store]:
    if backend == "sqlite":
        with open_store(db_url) as opened:
            yield opened
        return
    _, engine = request.getfixturevalue("postgres_session")
    db = Database(engine)
    ensure_default(db)
    yield Store(db, store_url(db_url))


@pytest.fixture
def actor() -> Actor:
    return Actor(name="alice", address="192.0.2.10")
