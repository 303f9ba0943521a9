"""Detections: what matched, when, in which tenant, from which event source; with search,
counts and aggregates over a time range.

Recorded in bulk by the serving side, many rows per transaction. A detection's
``detection_id`` is stable, so a batch sent again (at-least-once delivery) adds nothing
twice. Text is stored bounded and cleaned (``validation.clean_text``). Detections are a log, not a
change, so only ``purge`` writes an audit row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from trapline.store import audit, schema
from trapline.store.database import Database
from trapline.store.errors import InvalidInput
from trapline.store.records import (
    Actor,
    Detection,
    DetectionInput,
    DetectionQuery,
    Page,
    Stat,
)
from trapline.store.validation import NAME, check_limit, check_name, clean_json, clean_text

MAX_EVENT_CHARS = 8192    # of the original event text
MAX_VALUE_CHARS = 4096    # of the observable and the indicator
MAX_ID_CHARS = 128        # of a detection id
MAX_BATCH = 10_000        # detections per add
MAX_BUCKETS = 10_000      # buckets per timeline
STAT_KEYS = ("category", "feed", "source")


class Detections:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, rows: Sequence[DetectionInput]) -> int:
        """Record detections in one transaction; returns how many were new (a
        ``detection_id`` already stored is skipped)."""
        if len(rows) > MAX_BATCH:
            raise InvalidInput(f"at most {MAX_BATCH} detections per add, not {len(rows)}")
        if not rows:
            return 0
        for r in rows:
            check_name("detection id", r.detection_id, longest=MAX_ID_CHARS)
        d = schema.detections
        insert = postgresql.insert if self._db.dialect == "postgresql" else sqlite.insert
        stmt = insert(d).on_conflict_do_nothing(index_elements=["detection_id"])
        with self._db.write() as conn:
            tenants = {r.tenant: self._db.tenant_id(conn, r.tenant) for r in rows}
            values = [{
                "detection_id": r.detection_id, "time": r.time,
                "tenant_id": tenants[r.tenant],
                "observable": clean_text(r.observable, MAX_VALUE_CHARS),
                "indicator": clean_text(r.indicator, MAX_VALUE_CHARS),
                "category": clean_text(r.category, NAME), "feed": clean_text(r.feed, NAME),
                "context": clean_json(r.context), "source": clean_text(r.source, NAME),
                "event": clean_text(r.event, MAX_EVENT_CHARS), "snapshot": r.snapshot,
            } for r in rows]
            return len(conn.execute(stmt.returning(d.c.id), values).all())

    def _where(self, conn: sa.Connection, query: DetectionQuery) -> list[Any]:
        d = schema.detections
        where: list[Any] = [d.c.tenant_id == self._db.tenant_id(conn, query.tenant)]
        if query.start is not None:
            where.append(d.c.time >= query.start)
        if query.end is not None:
            where.append(d.c.time < query.end)
        for column in ("category", "feed", "source"):
            wanted = getattr(query, column)
            if wanted is not None:
                where.append(d.c[column] == wanted)
        if query.indicator:
            where.append(d.c.indicator.icontains(query.indicator, autoescape=True))
        return where

    def search(self, query: DetectionQuery, *, limit: int = 100,
               cursor: str | None = None) -> Page[Detection]:
        """Matching detections, newest first, one page at a time (keyset paging: pass
        ``next_cursor`` back for the next page)."""
        check_limit(limit)
        d = schema.detections
        with self._db.read() as conn:
            where = self._where(conn, query)
            if cursor is not None:
                at, row_id = _cursor(cursor)
                where.append(sa.tuple_(d.c.time, d.c.id) < sa.tuple_(at, row_id))
            rows = conn.execute(sa.select(d).where(*where)
                                .order_by(d.c.time.desc(), d.c.id.desc())
                                .limit(limit + 1)).all()
            items = [Detection(id=r.id, detection_id=r.detection_id, time=r.time,
                               tenant=query.tenant, observable=r.observable,
                               indicator=r.indicator, category=r.category, feed=r.feed,
                               context=r.context, source=r.source, event=r.event,
                               snapshot=r.snapshot) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(items=items,
                    next_cursor=f"{items[-1].time!r}/{items[-1].id}" if more else None)

    def count(self, query: DetectionQuery) -> int:
        """How many detections match."""
        with self._db.read() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(schema.detections)
                                .where(*self._where(conn, query))).scalar_one()

    def stats(self, by: str, query: DetectionQuery, *, limit: int = 100) -> list[Stat]:
        """Counts per category, feed or source, largest first (at most ``limit`` keys)."""
        if by not in STAT_KEYS:
            raise InvalidInput(f"statistics are by {', '.join(STAT_KEYS)}, not {by!r}")
        check_limit(limit)
        column = schema.detections.c[by]
        count = sa.func.count().label("count")
        with self._db.read() as conn:
            rows = conn.execute(sa.select(column, count).where(*self._where(conn, query))
                                .group_by(column).order_by(count.desc(), column)
                                .limit(limit)).all()
        return [Stat(key=key, count=n) for key, n in rows]

    def timeline(self, query: DetectionQuery, *, bucket: float = 60.0) -> list[Stat]:
        """Counts per time bucket (default: per minute) over the query's time range, which
        must be given; keys are bucket starts, empty buckets are left out."""
        if query.start is None or query.end is None:
            raise InvalidInput("a timeline needs a start and an end")
        if bucket <= 0 or (query.end - query.start) / bucket > MAX_BUCKETS:
            raise InvalidInput(f"a timeline has between 1 and {MAX_BUCKETS} buckets")
        time = schema.detections.c.time
        if self._db.dialect == "postgresql":
            start = sa.func.floor(time / bucket) * bucket
        else:  # SQLite's CAST truncates, which is floor for times after 1970
            start = sa.cast(time / bucket, sa.Integer) * bucket
        start = start.label("start")
        with self._db.read() as conn:
            rows = conn.execute(sa.select(start, sa.func.count())
                                .where(*self._where(conn, query))
                                .group_by(start).order_by(start)).all()
        return [Stat(key=float(key), count=n) for key, n in rows]

    def purge(self, actor: Actor, before: float, *, tenant: str | None = None) -> int:
        """Delete detections older than ``before`` (of one tenant, or all); returns how many."""
        d = schema.detections
        with self._db.write() as conn:
            where = [d.c.time < before]
            tenant_id = None
            if tenant is not None:
                tenant_id = self._db.tenant_id(conn, tenant)
                where.append(d.c.tenant_id == tenant_id)
            deleted = conn.execute(sa.delete(d).where(*where)).rowcount
            audit.record(conn, actor, "detections.purge", tenant or "*", tenant_id=tenant_id,
                         details={"before": before, "deleted": deleted})
        return deleted


def _cursor(cursor: str) -> tuple[float, int]:
    at, _, row_id = cursor.partition("/")
    try:
        return float(at), int(row_id)
    except ValueError:
        raise InvalidInput(f"invalid cursor {cursor!r}") from None
