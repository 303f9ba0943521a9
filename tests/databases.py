"""Databases for tests: a SQLite data directory, or a fresh PostgreSQL database.

    with postgres_database() as url:       # CREATE DATABASE trapline_test_<random>, dropped after
        store = open_store(url)

The PostgreSQL server is ``$TRAPLINE_TEST_POSTGRES`` (default: trust auth as ``postgres`` on
127.0.0.1:5432, database ``test``); its user must be allowed to create databases. Where it
cannot be reached, ``require_postgres`` skips the test, but fails it when ``CI=true``.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
import sqlalchemy as sa

POSTGRES_ENV = "TRAPLINE_TEST_POSTGRES"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CONNECT_TIMEOUT = 3  # seconds


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def postgres_server() -> sa.URL:
    """The URL of the server tests create their databases on."""
    return sa.make_url(os.environ.get(POSTGRES_ENV) or DEFAULT_POSTGRES)


def _libpq(url: sa.URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@functools.cache
def postgres_unavailable() -> str | None:
    """Why PostgreSQL cannot be used for tests, or None when it can."""
    url = postgres_server()
    try:
        with psycopg.connect(_libpq(url), connect_timeout=CONNECT_TIMEOUT) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return (f"PostgreSQL at {url.render_as_string(hide_password=True)} is unreachable "
                f"({str(exc).strip()}); set {POSTGRES_ENV}")
    return None


def require_postgres() -> None:
    """Skip the calling test without PostgreSQL; fail it instead when CI=true."""
    reason = postgres_unavailable()
    if reason is not None:
        if in_ci():
            pytest.fail(f"{reason} (CI=true: PostgreSQL must be available)")
        pytest.skip(reason)


@contextmanager
def postgres_database(prefix: str = "trapline_test", *, fast: bool = True) -> Iterator[str]:
    """A new, empty PostgreSQL database for the block, dropped after; yields its URL.

    ``fast``: commits do not wait for the server's disk (``synchronous_commit=off``). What
    a client was told stays committed when the client dies; only a crash of the server
    itself could lose the last few.
    """
    require_postgres()
    server = postgres_server()
    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(_libpq(server), autocommit=True,
                         connect_timeout=CONNECT_TIMEOUT) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        if fast:
            admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit TO off')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq(server), autocommit=True,
                             connect_timeout=CONNECT_TIMEOUT) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlite_url(folder: os.PathLike[str] | str) -> str:
    """The URL of a SQLite database file in ``folder``."""
    return f"sqlite:///{os.fspath(folder)}/trapline.db"
