"""Indicators of list suppliers (InternalTI, FalsePositive and API-managed lists).

Values are stored as given (the serving side canonicalizes them when it builds its lists);
(supplier, value) is unique. Every change bumps the tenant's lists version in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa

from trapline.store import audit, list_version, schema
from trapline.store.database import Database, now
from trapline.store.errors import InvalidInput, NotFound
from trapline.store.records import (
    DEFAULT_TENANT,
    Actor,
    Indicator,
    IndicatorInput,
    Page,
    PutResult,
)
from trapline.store.suppliers import supplier_row
from trapline.store.validation import (
    MAX_TEXT,
    NAME,
    actor_name,
    check_json,
    check_limit,
    check_text,
)

MAX_VALUE_BYTES = 2048   # longest value (UTF-8); PostgreSQL's btree keys stop near 2700
MAX_BATCH = 100_000      # most indicators in one put or delete
MAX_CONTEXT = 65536      # largest context, as JSON
_CHUNK = 500             # values per IN (...) query

T = TypeVar("T")


def _chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def check_value(value: str) -> None:
    """Refuse a value the store cannot hold: empty, NUL, over MAX_VALUE_BYTES."""
    check_text("an indicator value", value, longest=MAX_VALUE_BYTES)
    if not value.strip():
        raise InvalidInput("an indicator value must not be empty")
    if len(value.encode("utf-8")) > MAX_VALUE_BYTES:
        raise InvalidInput(f"an indicator value is longer than {MAX_VALUE_BYTES} bytes")


def _check_entry(entry: IndicatorInput) -> None:
    check_value(entry.value)
    check_text("indicator kind", entry.kind, longest=32)
    check_text("category", entry.category, longest=NAME)
    check_text("comment", entry.comment, longest=MAX_TEXT)
    if not isinstance(entry.context, dict):
        raise InvalidInput("an indicator's context must be an object")
    check_json("an indicator's context", entry.context, largest=MAX_CONTEXT)
    for tag in entry.tags:
        check_text("a tag name", tag, longest=NAME)
    if entry.valid_until is not None and not isinstance(entry.valid_until, int | float):
        raise InvalidInput("valid_until must be a time (epoch seconds) or None")


def _check_batch(what: str, count: int) -> None:
    if count > MAX_BATCH:
        raise InvalidInput(f"at most {MAX_BATCH} indicators per {what}, not {count}")


class Indicators:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _list_supplier(self, conn: sa.Connection, tenant: str,
                       supplier: str) -> tuple[int, sa.Row]:
        tenant_id = self._db.tenant_id(conn, tenant)
        row = supplier_row(conn, tenant_id, supplier)
        if row.kind != "list":
            raise InvalidInput(f"supplier {supplier!r} is a feed: its indicators come "
                               "from the feed")
        return tenant_id, row

    def put(self, actor: Actor, supplier: str, entries: Sequence[IndicatorInput], *,
            tenant: str = DEFAULT_TENANT) -> PutResult:
        """Add new values and update existing ones (kind, category, context, tags, comment,
        valid_until; created_at and added_by stay). A value given twice: the last wins.
        Tags must exist in the tenant (NotFound otherwise)."""
        _check_batch("put", len(entries))
        for entry in entries:
            _check_entry(entry)
        by_value = {e.value: e for e in entries}
        i, it = schema.indicators, schema.indicator_tags
        with self._db.write() as conn:
            tenant_id, sup = self._list_supplier(conn, tenant, supplier)
            if by_value:  # first: on PostgreSQL the row lock queues concurrent upserts
                list_version.bump(conn, tenant_id)
            tag_ids = self._tag_ids(conn, tenant_id, {t for e in entries for t in e.tags})
            existing = self._ids(conn, sup.id, list(by_value))
            at = now()
            new = [by_value[v] for v in by_value if v not in existing]
            if new:
                conn.execute(sa.insert(i), [{"supplier_id": sup.id, "created_at": at,
                                             "added_by": actor_name(actor),
                                             **_columns(e, at)} for e in new])
            if existing:
                conn.execute(sa.update(i).where(i.c.id == sa.bindparam("b_id")),
                             [{"b_id": existing[v], **_columns(by_value[v], at)}
                              for v in existing])
                for chunk in _chunks(list(existing.values())):
                    conn.execute(sa.delete(it).where(it.c.indicator_id.in_(chunk)))
            tagged = [e for e in new if e.tags]
            if tagged:  # the new rows' ids, only when they carry tags
                ids = self._ids(conn, sup.id, [e.value for e in tagged])
                pairs = [{"indicator_id": ids[e.value], "tag_id": tag_ids[t]}
                         for e in tagged for t in dict.fromkeys(e.tags)]
                conn.execute(sa.insert(it), pairs)
            pairs = [{"indicator_id": existing[v], "tag_id": tag_ids[t]}
                     for v in existing for t in dict.fromkeys(by_value[v].tags)]
            if pairs:
                conn.execute(sa.insert(it), pairs)
            result = PutResult(added=len(new), updated=len(existing))
            audit.record(conn, actor, "indicators.put", supplier, tenant_id=tenant_id,
                         details={"added": result.added, "updated": result.updated,
                                  **audit.sample(list(by_value))})
        return result

    def _ids(self, conn: sa.Connection, supplier_id: int, values: list[str]) -> dict[str, int]:
        i = schema.indicators
        found: dict[str, int] = {}
        for chunk in _chunks(values):
            found.update((r.value, r.id) for r in conn.execute(
                sa.select(i.c.value, i.c.id).where(i.c.supplier_id == supplier_id,
                                                   i.c.value.in_(chunk))))
        return found

    def _tag_ids(self, conn: sa.Connection, tenant_id: int, names: set[str]) -> dict[str, int]:
        if not names:
            return {}
        t = schema.tags
        found: dict[str, int] = {}
        for chunk in _chunks(sorted(names)):
            found.update((r.name, r.id) for r in conn.execute(
                sa.select(t.c.name, t.c.id).where(t.c.tenant_id == tenant_id,
                                                  t.c.name.in_(chunk))))
        missing = sorted(names - set(found))
        if missing:
            raise NotFound(f"unknown tag {', '.join(map(repr, missing[:10]))}")
        return found

    def delete(self, actor: Actor, supplier: str, values: Sequence[str], *,
               tenant: str = DEFAULT_TENANT) -> int:
        """Delete values from a list supplier; those it does not hold are ignored.
        Returns how many were deleted."""
        _check_batch("delete", len(values))
        wanted = list(dict.fromkeys(values))
        i = schema.indicators
        with self._db.write() as conn:
            tenant_id, sup = self._list_supplier(conn, tenant, supplier)
            list_version.lock(conn, tenant_id)
            deleted = 0
            for chunk in _chunks(wanted):
                deleted += conn.execute(sa.delete(i).where(
                    i.c.supplier_id == sup.id, i.c.value.in_(chunk))).rowcount
            if deleted:
                list_version.bump(conn, tenant_id)
            audit.record(conn, actor, "indicators.delete", supplier, tenant_id=tenant_id,
                         details={"deleted": deleted, **audit.sample(wanted)})
        return deleted

    def tag(self, actor: Actor, supplier: str, value: str, tag: str, *,
            tenant: str = DEFAULT_TENANT) -> bool:
        """Attach an existing tag to one indicator of a list supplier (audited
        ``indicators.tag``). False, and nothing written, when it carries the tag already;
        NotFound for a value the supplier does not hold or an unknown tag."""
        return self._retag(actor, supplier, value, tag, tenant, attach=True)

    def untag(self, actor: Actor, supplier: str, value: str, tag: str, *,
              tenant: str = DEFAULT_TENANT) -> bool:
        """Detach a tag from one indicator of a list supplier (audited ``indicators.untag``).
        False, and nothing written, when it did not carry the tag."""
        return self._retag(actor, supplier, value, tag, tenant, attach=False)

    def _retag(self, by: Actor, supplier: str, value: str, tag: str, tenant: str, *,
               attach: bool) -> bool:
        check_text("a tag name", tag, longest=NAME)
        i, it = schema.indicators, schema.indicator_tags
        with self._db.write() as conn:
            tenant_id, sup = self._list_supplier(conn, tenant, supplier)
            list_version.lock(conn, tenant_id)
            indicator_id = conn.execute(sa.select(i.c.id).where(
                i.c.supplier_id == sup.id, i.c.value == value)).scalar()
            if indicator_id is None:
                raise NotFound(f"{supplier} holds no indicator {value!r}")
            tag_id = self._tag_ids(conn, tenant_id, {tag})[tag]
            pair = (it.c.indicator_id == indicator_id) & (it.c.tag_id == tag_id)
            carries = conn.execute(sa.select(sa.func.count()).select_from(it).where(pair)
                                   ).scalar_one() > 0
            if carries == attach:
                return False
            if attach:
                conn.execute(sa.insert(it).values(indicator_id=indicator_id, tag_id=tag_id))
            else:
                conn.execute(sa.delete(it).where(pair))
            conn.execute(sa.update(i).where(i.c.id == indicator_id).values(updated_at=now()))
            list_version.bump(conn, tenant_id)
            audit.record(conn, by, "indicators.tag" if attach else "indicators.untag",
                         supplier, tenant_id=tenant_id, details={"value": value, "tag": tag})
        return True

    def get(self, supplier: str, value: str, *, tenant: str = DEFAULT_TENANT) -> Indicator:
        """One indicator of a list supplier; NotFound if it does not hold the value."""
        i = schema.indicators
        with self._db.read() as conn:
            _, sup = self._list_supplier(conn, tenant, supplier)
            rows = conn.execute(sa.select(i).where(i.c.supplier_id == sup.id,
                                                   i.c.value == value)).all()
            if not rows:
                raise NotFound(f"{supplier} holds no indicator {value!r}")
            return self._records(conn, tenant, supplier, rows)[0]

    def page(self, supplier: str, *, tenant: str = DEFAULT_TENANT, search: str | None = None,
             limit: int = 100, offset: int = 0) -> Page[Indicator]:
        """A page of a list supplier's indicators by value, optionally those whose value
        contains ``search`` (case-insensitive); ``total`` counts every match."""
        check_limit(limit)
        if offset < 0:
            raise InvalidInput(f"offset must not be negative, not {offset}")
        i = schema.indicators
        with self._db.read() as conn:
            _, sup = self._list_supplier(conn, tenant, supplier)
            where = [i.c.supplier_id == sup.id]
            if search:
                where.append(i.c.value.icontains(search, autoescape=True))
            total = conn.execute(sa.select(sa.func.count()).select_from(i)
                                 .where(*where)).scalar_one()
            rows = conn.execute(sa.select(i).where(*where).order_by(i.c.value, i.c.id)
                                .limit(limit).offset(offset)).all()
            items = self._records(conn, tenant, supplier, rows)
        more = offset + len(items) < total
        return Page(items=items, total=total,
                    next_cursor=str(offset + len(items)) if more else None)

    def entries(self, supplier: str, *, tenant: str = DEFAULT_TENANT) -> list[Indicator]:
        """Every indicator of a list supplier, expired ones included (the matcher drops
        them by ``valid_until``), for building the in-memory lists."""
        i = schema.indicators
        with self._db.read() as conn:
            _, sup = self._list_supplier(conn, tenant, supplier)
            rows = conn.execute(sa.select(i).where(i.c.supplier_id == sup.id)
                                .order_by(i.c.id)).all()
            return self._records(conn, tenant, supplier, rows, whole_supplier=sup.id)

    def version(self, tenant: str | None = None) -> int:
        """The lists version of a tenant, or of all tenants (see ``list_version``)."""
        return list_version.current(self._db, tenant)

    def _records(self, conn: sa.Connection, tenant: str, supplier: str,
                 rows: Sequence[sa.Row], *, whole_supplier: int | None = None
                 ) -> list[Indicator]:
        it, t, i = schema.indicator_tags, schema.tags, schema.indicators
        tags: dict[int, list[str]] = {}
        query = sa.select(it.c.indicator_id, t.c.name).join(t, t.c.id == it.c.tag_id)
        if whole_supplier is not None:
            batches: Iterable[Any] = [query.join(i, i.c.id == it.c.indicator_id)
                                      .where(i.c.supplier_id == whole_supplier)]
        else:
            batches = (query.where(it.c.indicator_id.in_(chunk))
                       for chunk in _chunks([r.id for r in rows]))
        for batch in batches:
            for indicator_id, name in conn.execute(batch):
                tags.setdefault(indicator_id, []).append(name)
        return [Indicator(id=r.id, tenant=tenant, supplier=supplier, value=r.value,
                          kind=r.kind, category=r.category, context=r.context,
                          tags=tuple(sorted(tags.get(r.id, ()))), comment=r.comment,
                          added_by=r.added_by, created_at=r.created_at,
                          updated_at=r.updated_at, valid_until=r.valid_until)
                for r in rows]


def _columns(entry: IndicatorInput, at: float) -> dict[str, Any]:
    return {"value": entry.value, "kind": entry.kind, "category": entry.category,
            "context": entry.context, "comment": entry.comment,
            "valid_until": entry.valid_until, "updated_at": at}
