"""Engine creation: SQLite in WAL mode with full syncs (the default), or PostgreSQL via psycopg 3.

SQLite settings, on every connection:

- ``journal_mode=WAL``: readers never block the writer, and the writer never blocks readers;
- ``synchronous=FULL``: every commit syncs the WAL, so an acknowledged write survives a
  power loss, not only a kill -9 (``NORMAL`` would only promise the latter);
- ``foreign_keys=ON`` (off only while migrating, see ``migrate``);
- ``busy_timeout``: how long a writer waits for another process's write to finish.

Write transactions start with ``BEGIN IMMEDIATE``: the write lock is taken at the start, so
two processes queue on ``busy_timeout`` instead of failing at their first write with a
snapshot that went stale. Read transactions start with a plain (deferred) ``BEGIN``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine

from trapline.store.errors import InvalidInput

DB_FILE = "trapline.db"
WRITE = "trapline_write"  # the execution option that makes a transaction BEGIN IMMEDIATE


def _json_dumps(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def store_url(target: str | Path) -> URL:
    """The database URL for a data directory (``DATA_DIR/trapline.db``) or a URL.

    ``postgresql://`` and ``postgres://`` mean psycopg 3 (``postgresql+psycopg://``).
    """
    text = str(target)
    if "://" not in text:
        return URL.create("sqlite", database=str(Path(text) / DB_FILE))
    try:
        url = sa.make_url(text)
    except sa.exc.ArgumentError as exc:
        raise InvalidInput(f"not a database URL: {exc}") from exc
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise InvalidInput(f"unsupported database {url.get_backend_name()!r}: "
                           "use a data directory (SQLite) or postgresql+psycopg://...")
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        raise InvalidInput("an in-memory SQLite database cannot be shared; give a file")
    return url


def make_engine(url: URL, *, busy_timeout: float = 30.0, foreign_keys: bool = True,
                **kwargs: Any) -> Engine:
    """An engine with trapline's connection settings (see the module docstring)."""
    if url.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, json_serializer=_json_dumps,
                                  json_deserializer=msgspec.json.decode,
                                  connect_args={"timeout": busy_timeout}, **kwargs)
        _sqlite_settings(engine, busy_timeout=busy_timeout, foreign_keys=foreign_keys)
        return engine
    return sa.create_engine(url, json_serializer=_json_dumps,
                            json_deserializer=msgspec.json.decode, pool_pre_ping=True,
                            connect_args={"connect_timeout": max(1, round(busy_timeout))},
                            **kwargs)


def _sqlite_settings(engine: Engine, *, busy_timeout: float, foreign_keys: bool) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # sqlite3 must not issue its own BEGIN: the "begin" hook below does.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        write = connection.get_execution_options().get(WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
