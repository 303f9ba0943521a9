"""Tenants: named partitions of users, lists, tags and detections. ``General`` always exists.

Tenants are created, never renamed or deleted, so their ids can be cached per process.
"""

from __future__ import annotations

import sqlalchemy as sa

from trapline.store import audit, list_version, schema
from trapline.store.database import Database, now
from trapline.store.errors import AlreadyExists, NotFound
from trapline.store.records import DEFAULT_TENANT, SYSTEM, Actor, Tenant
from trapline.store.suppliers import create_builtins
from trapline.store.validation import check_name


class Tenants:
    def __init__(self, db: Database) -> None:
        self._db = db

    def all(self) -> list[Tenant]:
        """Every tenant, by name."""
        t = schema.tenants
        with self._db.read() as conn:
            rows = conn.execute(sa.select(t).order_by(t.c.name)).all()
        return [Tenant(id=r.id, name=r.name, created_at=r.created_at) for r in rows]

    def get(self, name: str) -> Tenant:
        """A tenant by name; NotFound if there is none."""
        t = schema.tenants
        with self._db.read() as conn:
            row = conn.execute(sa.select(t).where(t.c.name == name)).first()
        if row is None:
            raise NotFound(f"unknown tenant {name!r}")
        return Tenant(id=row.id, name=row.name, created_at=row.created_at)

    def create(self, actor: Actor, name: str) -> Tenant:
        """A new tenant with its built-in suppliers and lists version."""
        check_name("tenant", name)
        with self._db.write() as conn:
            tenant = _create(conn, name)
            audit.record(conn, actor, "tenant.create", name, tenant_id=tenant.id)
        return tenant


def _create(conn: sa.Connection, name: str) -> Tenant:
    t = schema.tenants
    if conn.execute(sa.select(t.c.id).where(t.c.name == name)).first() is not None:
        raise AlreadyExists(f"tenant {name!r} exists")
    at = now()
    tenant_id = conn.execute(sa.insert(t).values(name=name, created_at=at)
                             .returning(t.c.id)).scalar_one()
    create_builtins(conn, tenant_id, at)
    list_version.init(conn, tenant_id)
    return Tenant(id=tenant_id, name=name, created_at=at)


def ensure_default(db: Database) -> None:
    """Create the ``General`` tenant on first start (audited as the system)."""
    t = schema.tenants
    with db.read() as conn:
        if conn.execute(sa.select(t.c.id).where(t.c.name == DEFAULT_TENANT)).first():
            return
    try:
        with db.write() as conn:
            tenant = _create(conn, DEFAULT_TENANT)
            audit.record(conn, SYSTEM, "tenant.create", DEFAULT_TENANT, tenant_id=tenant.id)
    except AlreadyExists:
        pass  # another process was first
