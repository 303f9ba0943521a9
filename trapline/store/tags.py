"""Tags per tenant (name, color, description), attached to list indicators.

Renaming or deleting a tag changes the indicators that carry it, so it bumps the lists
version when any does.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from trapline.store import audit, list_version, schema
from trapline.store.database import Database, now
from trapline.store.errors import AlreadyExists, InvalidInput, NotFound
from trapline.store.records import DEFAULT_TENANT, Actor, Tag
from trapline.store.validation import MAX_TEXT, check_name, check_text

_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")  # shown in pages: nothing but a hex color gets in


def _check(color: str | None, description: str | None) -> None:
    if color is not None and color != "" and not _COLOR.fullmatch(color):
        raise InvalidInput(f"tag color must be #rrggbb or empty, not {color[:20]!r}")
    if description is not None:
        check_text("tag description", description, longest=MAX_TEXT)


class Tags:
    def __init__(self, db: Database) -> None:
        self._db = db

    def all(self, *, tenant: str = DEFAULT_TENANT) -> list[Tag]:
        """A tenant's tags, by name."""
        t = schema.tags
        with self._db.read() as conn:
            tenant_id = self._db.tenant_id(conn, tenant)
            rows = conn.execute(sa.select(t).where(t.c.tenant_id == tenant_id)
                                .order_by(t.c.name)).all()
        return [_record(tenant, r) for r in rows]

    def get(self, name: str, *, tenant: str = DEFAULT_TENANT) -> Tag:
        """One tag; NotFound if the tenant has none of that name."""
        with self._db.read() as conn:
            return _record(tenant, self._row(conn, self._db.tenant_id(conn, tenant), name))

    def _row(self, conn: sa.Connection, tenant_id: int, name: str) -> sa.Row:
        t = schema.tags
        row = conn.execute(sa.select(t).where(t.c.tenant_id == tenant_id, t.c.name == name)
                           ).first()
        if row is None:
            raise NotFound(f"unknown tag {name!r}")
        return row

    def create(self, actor: Actor, name: str, *, color: str = "", description: str = "",
               tenant: str = DEFAULT_TENANT) -> Tag:
        """A new tag; AlreadyExists if the tenant has one of that name."""
        check_name("tag", name)
        _check(color, description)
        t = schema.tags
        with self._db.write() as conn:
            tenant_id = self._db.tenant_id(conn, tenant)
            if conn.execute(sa.select(t.c.id).where(t.c.tenant_id == tenant_id,
                                                    t.c.name == name)).first():
                raise AlreadyExists(f"tag {name!r} exists")
            at = now()
            conn.execute(sa.insert(t).values(tenant_id=tenant_id, name=name, color=color,
                                             description=description, created_at=at,
                                             updated_at=at))
            audit.record(conn, actor, "tag.create", name, tenant_id=tenant_id,
                         details={"color": color, "description": description})
            return _record(tenant, self._row(conn, tenant_id, name))

    def update(self, actor: Actor, name: str, *, new_name: str | None = None,
               color: str | None = None, description: str | None = None,
               tenant: str = DEFAULT_TENANT) -> Tag:
        """Rename a tag or change its color or description."""
        _check(color, description)
        t = schema.tags
        with self._db.write() as conn:
            tenant_id = self._db.tenant_id(conn, tenant)
            row = self._row(conn, tenant_id, name)
            values: dict[str, object] = {}
            if new_name is not None and new_name != name:
                check_name("tag", new_name)
                if conn.execute(sa.select(t.c.id).where(t.c.tenant_id == tenant_id,
                                                        t.c.name == new_name)).first():
                    raise AlreadyExists(f"tag {new_name!r} exists")
                values["name"] = new_name
                if self._in_use(conn, row.id):
                    list_version.bump(conn, tenant_id)
            if color is not None:
                values["color"] = color
            if description is not None:
                values["description"] = description
            conn.execute(sa.update(t).where(t.c.id == row.id).values(updated_at=now(),
                                                                    **values))
            audit.record(conn, actor, "tag.update", name, tenant_id=tenant_id, details=values)
            return _record(tenant, self._row(conn, tenant_id, new_name or name))

    def usage(self, *, tenant: str = DEFAULT_TENANT) -> dict[str, int]:
        """How many list indicators carry each of a tenant's tags (every tag, 0 included)."""
        t, it = schema.tags, schema.indicator_tags
        with self._db.read() as conn:
            tenant_id = self._db.tenant_id(conn, tenant)
            rows = conn.execute(
                sa.select(t.c.name, sa.func.count(it.c.indicator_id))
                .select_from(t).outerjoin(it, it.c.tag_id == t.c.id)
                .where(t.c.tenant_id == tenant_id).group_by(t.c.id, t.c.name)).all()
        return {name: int(count) for name, count in rows}

    def delete(self, actor: Actor, name: str, *, tenant: str = DEFAULT_TENANT,
               unused_only: bool = False) -> None:
        """Delete a tag and detach it from every indicator; with ``unused_only``, refuse
        (InvalidInput, nothing changed) a tag that some indicator carries."""
        t = schema.tags
        with self._db.write() as conn:
            tenant_id = self._db.tenant_id(conn, tenant)
            row = self._row(conn, tenant_id, name)
            used = self._in_use(conn, row.id)
            if used and unused_only:
                raise InvalidInput(f"tag {name!r} is on {used} indicator(s): remove it from "
                                   "them first")
            if used:
                list_version.bump(conn, tenant_id)
            conn.execute(sa.delete(t).where(t.c.id == row.id))
            audit.record(conn, actor, "tag.delete", name, tenant_id=tenant_id,
                         details={"indicators": used})

    def _in_use(self, conn: sa.Connection, tag_id: int) -> int:
        it = schema.indicator_tags
        return conn.execute(sa.select(sa.func.count()).where(it.c.tag_id == tag_id)
                            ).scalar_one()


def _record(tenant: str, row: sa.Row) -> Tag:
    return Tag(id=row.id, tenant=tenant, name=row.name, color=row.color,
               description=row.description, created_at=row.created_at,
               updated_at=row.updated_at)
