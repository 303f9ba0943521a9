"""Transactions shared by every repository: one writer at a time per process, any readers.

A write transaction holds the process's write lock, so threads queue here rather than on
the database; across processes SQLite queues on ``BEGIN IMMEDIATE`` and ``busy_timeout``,
and PostgreSQL on row locks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from trapline.store import schema
from trapline.store.engine import WRITE
from trapline.store.errors import AlreadyExists, InvalidInput, NotFound, StoreUnavailable


def now() -> float:
    """The current time as the store records it: UTC epoch seconds."""
    return time.time()


class Database:
    """An engine with the write lock and the tenant names cache (tenants are never renamed)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._write_lock = threading.Lock()
        self._tenant_ids: dict[str, int] = {}
        self._tenant_names: dict[int, str] = {}

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction: committed when the block ends, rolled back on any error."""
        with self._write_lock, self._translate(), self.engine.connect() as conn:
            conn.execution_options(**{WRITE: True})
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read transaction: one consistent view on SQLite."""
        with self._translate(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(f"database error: {exc.orig}") from exc
        except sa.exc.IntegrityError as exc:
            # Our own checks name the conflict first; this is a concurrent writer's race.
            raise AlreadyExists(f"conflicting change: {exc.orig}") from exc
        except sa.exc.DataError as exc:  # e.g. NUL in a name looked up on PostgreSQL
            raise InvalidInput(f"the database refused a value: {exc.orig}") from exc
        except UnicodeEncodeError as exc:  # a lone surrogate in a name looked up
            raise InvalidInput(f"text is not valid Unicode: {exc}") from exc

    def revision(self) -> str | None:
        """The schema revision Alembic recorded (None for an empty database)."""
        with self.read() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()

    def tenant_id(self, conn: sa.Connection, name: str) -> int:
        """The id of a tenant by name; NotFound if there is none."""
        found = self._tenant_ids.get(name)
        if found is None:
            t = schema.tenants
            found = conn.execute(sa.select(t.c.id).where(t.c.name == name)).scalar()
            if found is None:
                raise NotFound(f"unknown tenant {name!r}")
            self.remember_tenant(found, name)
        return found

    def tenant_name(self, conn: sa.Connection, tenant_id: int | None) -> str | None:
        """The name of a tenant by id (None for None)."""
        if tenant_id is None:
            return None
        name = self._tenant_names.get(tenant_id)
        if name is None:
            t = schema.tenants
            name = conn.execute(sa.select(t.c.name).where(t.c.id == tenant_id)).scalar_one()
            self.remember_tenant(tenant_id, name)
        return name

    def remember_tenant(self, tenant_id: int, name: str) -> None:
        self._tenant_ids[name] = tenant_id
        self._tenant_names[tenant_id] = name
