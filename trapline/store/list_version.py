"""The lists version: one counter per tenant, bumped by every change to its list suppliers,
their indicators or the tags on them, in the change's own transaction.

Serving workers poll ``current`` a few times a second (one tiny indexed read) and reload
their in-memory lists only when it moved. Without a tenant, the version is the sum over
every tenant: it moves whenever any tenant's does (tenants are never deleted).
"""

from __future__ import annotations

import sqlalchemy as sa

from trapline.store import schema
from trapline.store.database import Database


def init(conn: sa.Connection, tenant_id: int) -> None:
    """Start a new tenant's counter at 0."""
    conn.execute(sa.insert(schema.list_versions).values(tenant_id=tenant_id, version=0))


def lock(conn: sa.Connection, tenant_id: int) -> None:
    """Queue behind other writers of the tenant's lists until commit (PostgreSQL row lock;
    on SQLite the transaction already holds the database's write lock)."""
    v = schema.list_versions
    conn.execute(sa.select(v.c.version).where(v.c.tenant_id == tenant_id).with_for_update())


def bump(conn: sa.Connection, tenant_id: int) -> None:
    """Add one to a tenant's counter."""
    v = schema.list_versions
    conn.execute(sa.update(v).where(v.c.tenant_id == tenant_id)
                 .values(version=v.c.version + 1))


def current(db: Database, tenant: str | None = None) -> int:
    """The lists version of a tenant, or of all tenants together."""
    v = schema.list_versions
    with db.read() as conn:
        if tenant is None:
            return int(conn.execute(sa.select(sa.func.coalesce(sa.func.sum(v.c.version), 0)))
                       .scalar_one())
        tenant_id = db.tenant_id(conn, tenant)
        return int(conn.execute(sa.select(v.c.version).where(v.c.tenant_id == tenant_id))
                   .scalar_one())
