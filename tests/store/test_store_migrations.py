"""Migrations: empty to head, down to base and up again, and schema.py equal to the result."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from databases import postgres_database, sqlite_url
from sqlalchemy.pool import NullPool

from trapline.store import BUILTIN, DEFAULT_TENANT, Actor, StoreUnavailable, migrate, open_store
from trapline.store.engine import make_engine, store_url
from trapline.store.schema import REVISION, metadata

TABLES = {t.name for t in metadata.sorted_tables}


@pytest.fixture(scope="module")
def postgres_scratch() -> Iterator[str]:
    """A PostgreSQL database for this module's tests, each of which empties it."""
    with postgres_database() as url:
        yield url


@pytest.fixture
def empty_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> sa.URL:
    """An empty database of the backend."""
    if backend == "sqlite":
        return sa.make_url(sqlite_url(tmp_path))
    url = sa.make_url(request.getfixturevalue("postgres_scratch"))
    engine = sa.create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:  # quicker than a new database
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()
    return url


def _tables(url: sa.URL) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _revision(url: sa.URL) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return migrate.current(conn)
    finally:
        engine.dispose()


def test_schema_revision_is_the_newest_migration() -> None:
    """open_store compares schema.REVISION with the database's without loading Alembic."""
    assert migrate.head() == REVISION


def test_upgrade_from_empty_to_head(empty_url: sa.URL) -> None:
    assert _tables(empty_url) == set()
    migrate.upgrade(empty_url)
    assert _revision(empty_url) == migrate.head()
    assert _tables(empty_url) == TABLES


def test_a_database_newer_than_the_code_is_refused(empty_url: sa.URL) -> None:
    migrate.upgrade(empty_url)
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()
    with pytest.raises(StoreUnavailable, match="9999"):
        open_store(empty_url)


def test_downgrade_to_base_and_upgrade_again(empty_url: sa.URL) -> None:
    migrate.upgrade(empty_url)
    migrate.downgrade(empty_url, "base")
    assert _tables(empty_url) == set()
    assert _revision(empty_url) is None
    migrate.upgrade(empty_url)
    assert _tables(empty_url) == TABLES
    with open_store(empty_url) as store:
        assert [s.name for s in store.suppliers.all()] == sorted(BUILTIN)


def test_schema_py_matches_the_migrations(empty_url: sa.URL) -> None:
    """A change to schema.py without a migration fails here (and the check does see one)."""
    migrate.upgrade(empty_url)
    changed = sa.MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["users"].append_column(sa.Column("email", sa.String(200)))
    engine = make_engine(empty_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
            assert [d[0] for d in compare_metadata(context, changed)] == ["add_column"]
    finally:
        engine.dispose()


def test_open_store_migrates_an_empty_database_and_creates_general(empty_url: sa.URL) -> None:
    with open_store(empty_url) as store:
        assert [t.name for t in store.tenants.all()] == [DEFAULT_TENANT]
        assert store.lists_version() == 0
        assert [e.action for e in store.audit.search().items] == ["tenant.create"]
    with open_store(empty_url) as store:  # a second start changes nothing
        assert len(store.audit.search().items) == 1


def test_several_first_starts_at_once_migrate_once(empty_url: sa.URL) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        try:
            open_store(empty_url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with open_store(empty_url) as store:
        assert [t.name for t in store.tenants.all()] == [DEFAULT_TENANT]
        assert len(store.suppliers.all()) == len(BUILTIN)


def test_store_url_of_a_data_directory(tmp_path: Path) -> None:
    url = store_url(tmp_path / "data")
    assert url.get_backend_name() == "sqlite"
    assert url.database == str(tmp_path / "data" / "trapline.db")


def test_a_first_schema_database_with_data_is_upgraded_at_open(empty_url: sa.URL) -> None:
    """A store made by the first schema (0001) keeps its users when opened by this code."""
    migrate.upgrade(empty_url, revision="0001")
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO tenants (name, created_at) VALUES ('General', 1)")
            conn.exec_driver_sql(
                "INSERT INTO users (tenant_id, name, password_hash, role, disabled, "
                "must_change_password, created_at, updated_at) SELECT id, 'old', 'h', "
                "'Analyst', false, false, 1, 1 FROM tenants WHERE name = 'General'")
    finally:
        engine.dispose()
    store = open_store(empty_url)
    try:
        assert _revision(empty_url) == REVISION
        user = store.users.get("old")
        assert user.role == "Analyst" and user.sessions_valid_after is None
        assert store.users.end_sessions(Actor(name="t"), "old").sessions_valid_after
    finally:
        store.close()
