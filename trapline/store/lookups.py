"""Lookup history: what each user looked up and what came back, newest first.

Kept bounded: the first MAX_VALUES values of a lookup, the newest KEEP_PER_USER lookups of
a user. A history entry is a log, not a change, so it writes no audit row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from trapline.store import schema
from trapline.store.database import Database, now
from trapline.store.records import DEFAULT_TENANT, LookupRecord
from trapline.store.users import user_row
from trapline.store.validation import check_limit, clean_json, clean_text

MAX_VALUES = 100        # values kept per lookup
MAX_VALUE_CHARS = 2048  # characters kept per value
KEEP_PER_USER = 1000    # lookups kept per user


class Lookups:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, user: str, values: Sequence[str], summary: dict[str, Any], *,
            tenant: str = DEFAULT_TENANT, at: float | None = None) -> LookupRecord:
        """Record a lookup of ``user`` and drop their lookups beyond KEEP_PER_USER."""
        lk = schema.lookups
        kept = [clean_text(v, MAX_VALUE_CHARS) for v in values[:MAX_VALUES]]
        summary = clean_json(summary)
        at = now() if at is None else at
        with self._db.write() as conn:
            owner = user_row(conn, user)
            tenant_id = self._db.tenant_id(conn, tenant)
            row_id = conn.execute(sa.insert(lk).values(
                user_id=owner.id, tenant_id=tenant_id, time=at, lookup_values=kept,
                total=len(values), summary=summary).returning(lk.c.id)).scalar_one()
            oldest_kept = (sa.select(lk.c.id).where(lk.c.user_id == owner.id)
                           .order_by(lk.c.id.desc()).offset(KEEP_PER_USER - 1).limit(1)
                           .scalar_subquery())
            conn.execute(sa.delete(lk).where(lk.c.user_id == owner.id, lk.c.id < oldest_kept))
        return LookupRecord(id=row_id, user=user, tenant=tenant, time=at, values=kept,
                            total=len(values), summary=summary)

    def recent(self, user: str, *, limit: int = 20) -> list[LookupRecord]:
        """The newest ``limit`` lookups of a user (NotFound for an unknown user)."""
        check_limit(limit)
        lk = schema.lookups
        with self._db.read() as conn:
            owner = user_row(conn, user)
            rows = conn.execute(sa.select(lk).where(lk.c.user_id == owner.id)
                                .order_by(lk.c.id.desc()).limit(limit)).all()
            return [LookupRecord(id=r.id, user=user,
                                 tenant=self._db.tenant_name(conn, r.tenant_id) or "",
                                 time=r.time, values=r.lookup_values, total=r.total,
                                 summary=r.summary) for r in rows]
