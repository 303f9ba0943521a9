"""The audit log: one row per change, written in the change's own transaction.

Every mutating store method takes an ``Actor`` and calls ``record`` inside its write
transaction, so a change and its audit row commit together or not at all.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from trapline.store import schema
from trapline.store.database import Database, now
from trapline.store.errors import InvalidInput
from trapline.store.records import Actor, AuditEntry, Page
from trapline.store.validation import (
    MAX_TEXT,
    actor_name,
    check_limit,
    clean_json,
    clean_text,
)

DETAIL_VALUES = 100  # values listed in a bulk change's details; the rest are counted


def record(conn: sa.Connection, actor: Actor, action: str, target: str, *,
           tenant_id: int | None = None, details: dict[str, Any] | None = None) -> None:
    """Write one audit row in the caller's transaction."""
    conn.execute(sa.insert(schema.audit_log).values(
        at=now(), actor=actor_name(actor),
        address=clean_text(actor.address, 64), action=action,
        target=clean_text(target, MAX_TEXT), tenant_id=tenant_id,
        details=clean_json(details or {})))


def sample(values: list[str]) -> dict[str, Any]:
    """Audit details for a bulk change: the first values and how many there were."""
    return {"count": len(values), "values": values[:DETAIL_VALUES],
            "truncated": len(values) > DETAIL_VALUES}


class AuditLog:
    """Reads the audit log, newest first; ``note`` records an action that changes no row."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def note(self, actor: Actor, action: str, target: str, *,
             details: dict[str, Any] | None = None) -> None:
        """Record an action on the service itself (a restart asked for), in its own
        transaction: there is no change to commit it with."""
        with self._db.write() as conn:
            record(conn, actor, action, target, details=details)

    def search(self, *, actor: str | None = None, action: str | None = None,
               target: str | None = None, tenant: str | None = None,
               start: float | None = None, end: float | None = None,
               limit: int = 100, cursor: str | None = None) -> Page[AuditEntry]:
        """Audit rows, newest first, one page at a time.

        ``action`` matches exactly, or as a prefix when it ends with a dot (``"user."``);
        ``target`` exactly; the time range is [start, end); ``tenant`` None means every
        tenant and the changes of no tenant.
        """
        check_limit(limit)
        a = schema.audit_log
        query = sa.select(a)
        if actor is not None:
            query = query.where(a.c.actor == actor)
        if action is not None:
            if action.endswith("."):
                query = query.where(a.c.action.startswith(action, autoescape=True))
            else:
                query = query.where(a.c.action == action)
        if target is not None:
            query = query.where(a.c.target == target)
        if start is not None:
            query = query.where(a.c.at >= start)
        if end is not None:
            query = query.where(a.c.at < end)
        if cursor is not None:
            query = query.where(a.c.id < _cursor(cursor))
        with self._db.read() as conn:
            if tenant is not None:
                query = query.where(a.c.tenant_id == self._db.tenant_id(conn, tenant))
            rows = conn.execute(query.order_by(a.c.id.desc()).limit(limit + 1)).all()
            items = [AuditEntry(id=r.id, at=r.at, actor=r.actor, address=r.address,
                                action=r.action, target=r.target,
                                tenant=self._db.tenant_name(conn, r.tenant_id),
                                details=r.details) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(items=items, next_cursor=str(items[-1].id) if more else None)


def _cursor(cursor: str) -> int:
    try:
        return int(cursor)
    except ValueError:
        raise InvalidInput(f"invalid cursor {cursor!r}") from None
