"""Feed state: what the updater recorded of each feed, and whether it is enabled.

``record`` is the updater's bookkeeping after each attempt (no audit row: it is a log);
``set_enabled`` and ``forget`` are changes and are audited.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from trapline.store import audit, schema
from trapline.store.database import Database, now
from trapline.store.errors import NotFound
from trapline.store.records import Actor, FeedStatus
from trapline.store.validation import check_json, check_name, clean_text

MAX_ERROR_CHARS = 4096
MAX_DETAILS = 1 << 20  # bytes of JSON


def _record(row: sa.Row) -> FeedStatus:
    return FeedStatus(name=row.name, enabled=row.enabled, last_attempt=row.last_attempt,
                      last_success=row.last_success, last_error=row.last_error,
                      last_error_at=row.last_error_at, records=row.records,
                      details=row.details, updated_at=row.updated_at)


class FeedStates:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, name: str) -> FeedStatus:
        """A feed's state; a fresh, enabled one for a feed never recorded."""
        f = schema.feed_states
        with self._db.read() as conn:
            row = conn.execute(sa.select(f).where(f.c.name == name)).first()
        return FeedStatus(name=name) if row is None else _record(row)

    def all(self) -> list[FeedStatus]:
        """Every recorded feed, by name."""
        f = schema.feed_states
        with self._db.read() as conn:
            return [_record(r) for r in conn.execute(sa.select(f).order_by(f.c.name))]

    def record(self, name: str, *, ok: bool, at: float | None = None, error: str = "",
               records: int | None = None, details: dict[str, Any] | None = None
               ) -> FeedStatus:
        """Record an update attempt: a success sets ``last_success`` (and ``records``), a
        failure ``last_error`` and ``last_error_at``; ``details`` replaces the stored ones."""
        check_name("feed", name)
        at = now() if at is None else at
        values: dict[str, Any] = {"last_attempt": at, "updated_at": at}
        if ok:
            values["last_success"] = at
        else:
            values["last_error"] = clean_text(error, MAX_ERROR_CHARS)
            values["last_error_at"] = at
        if records is not None:
            values["records"] = records
        if details is not None:
            check_json(f"feed {name!r} details", details, largest=MAX_DETAILS)
            values["details"] = details
        with self._db.write() as conn:
            self._upsert(conn, name, values)
            return self._get(conn, name)

    def set_enabled(self, actor: Actor, name: str, enabled: bool) -> FeedStatus:
        """Enable or disable a feed."""
        check_name("feed", name)
        with self._db.write() as conn:
            self._upsert(conn, name, {"enabled": enabled, "updated_at": now()})
            audit.record(conn, actor, "feed.enable" if enabled else "feed.disable", name)
            return self._get(conn, name)

    def forget(self, actor: Actor, name: str) -> None:
        """Drop a feed's state (a feed removed from the configuration); NotFound if none."""
        f = schema.feed_states
        with self._db.write() as conn:
            if conn.execute(sa.delete(f).where(f.c.name == name)).rowcount == 0:
                raise NotFound(f"no state for feed {name!r}")
            audit.record(conn, actor, "feed.forget", name)

    def _get(self, conn: sa.Connection, name: str) -> FeedStatus:
        f = schema.feed_states
        return _record(conn.execute(sa.select(f).where(f.c.name == name)).one())

    def _upsert(self, conn: sa.Connection, name: str, values: dict[str, Any]) -> None:
        f = schema.feed_states
        if conn.execute(sa.update(f).where(f.c.name == name).values(**values)).rowcount:
            return
        row = {"name": name, "enabled": True, "last_error": "", "records": 0, "details": {}}
        conn.execute(sa.insert(f).values(**{**row, **values}))
