"""Suppliers: per tenant, ``feed`` suppliers mirror configured feeds, ``list`` suppliers hold
indicators managed through the API. ``InternalTI`` (the deny list) and ``FalsePositive`` are
built into every tenant and cannot be created, renamed or deleted.
"""

from __future__ import annotations

import sqlalchemy as sa

from trapline.store import audit, list_version, schema
from trapline.store.database import Database, now
from trapline.store.errors import AlreadyExists, InvalidInput, NotFound, ReservedName
from trapline.store.records import DEFAULT_TENANT, Actor, Supplier
from trapline.store.validation import MAX_TEXT, check_name, check_text

INTERNAL_TI = "InternalTI"
FALSE_POSITIVE = "FalsePositive"
BUILTIN = (INTERNAL_TI, FALSE_POSITIVE)
KINDS = ("feed", "list")
_RESERVED = {name.casefold(): name for name in BUILTIN}


def create_builtins(conn: sa.Connection, tenant_id: int, at: float) -> None:
    """Insert a new tenant's built-in list suppliers."""
    conn.execute(sa.insert(schema.suppliers), [
        {"tenant_id": tenant_id, "name": name, "kind": "list", "description": "",
         "builtin": True, "created_at": at, "updated_at": at} for name in BUILTIN])


def supplier_row(conn: sa.Connection, tenant_id: int, name: str) -> sa.Row:
    """A supplier's row in a tenant; NotFound if there is none."""
    s = schema.suppliers
    row = conn.execute(sa.select(s).where(s.c.tenant_id == tenant_id, s.c.name == name)).first()
    if row is None:
        raise NotFound(f"unknown supplier {name!r}")
    return row


def _check_not_reserved(name: str) -> None:
    builtin = _RESERVED.get(name.casefold())
    if builtin is not None:
        raise ReservedName(f"{builtin!r} is a built-in supplier")


class Suppliers:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _select(self) -> sa.Select:
        s, i = schema.suppliers, schema.indicators
        count = (sa.select(sa.func.count()).where(i.c.supplier_id == s.c.id)
                 .scalar_subquery().label("count"))
        return sa.select(s, count)

    def _record(self, tenant: str, row: sa.Row) -> Supplier:
        return Supplier(id=row.id, tenant=tenant, name=row.name, kind=row.kind,
                        description=row.description, builtin=row.builtin,
                        indicators=row.count, created_at=row.created_at,
                        updated_at=row.updated_at)

    def all(self, *, tenant: str = DEFAULT_TENANT, kind: str | None = None) -> list[Supplier]:
        """A tenant's suppliers (of one kind, if given), by name."""
        s = schema.suppliers
        with self._db.read() as conn:
            query = self._select().where(s.c.tenant_id == self._db.tenant_id(conn, tenant))
            if kind is not None:
                query = query.where(s.c.kind == kind)
            rows = conn.execute(query.order_by(s.c.name)).all()
        return [self._record(tenant, r) for r in rows]

    def get(self, name: str, *, tenant: str = DEFAULT_TENANT) -> Supplier:
        """One supplier; NotFound if the tenant has none of that name."""
        with self._db.read() as conn:
            return self._get(conn, name, tenant)

    def _get(self, conn: sa.Connection, name: str, tenant: str) -> Supplier:
        s = schema.suppliers
        row = conn.execute(self._select().where(
            s.c.tenant_id == self._db.tenant_id(conn, tenant), s.c.name == name)).first()
        if row is None:
            raise NotFound(f"unknown supplier {name!r}")
        return self._record(tenant, row)

    def create(self, actor: Actor, name: str, *, kind: str = "list", description: str = "",
               tenant: str = DEFAULT_TENANT) -> Supplier:
        """A new supplier; AlreadyExists if the name is taken in the tenant."""
        check_name("supplier", name)
        check_text("description", description, longest=MAX_TEXT)
        _check_not_reserved(name)
        if kind not in KINDS:
            raise InvalidInput(f"supplier kind must be one of {', '.join(KINDS)}, not {kind!r}")
        s = schema.suppliers
        with self._db.write() as conn:
            tenant_id = self._db.tenant_id(conn, tenant)
            taken = conn.execute(sa.select(s.c.id).where(
                s.c.tenant_id == tenant_id, s.c.name == name)).first()
            if taken is not None:
                raise AlreadyExists(f"supplier {name!r} exists")
            at = now()
            conn.execute(sa.insert(s).values(
                tenant_id=tenant_id, name=name, kind=kind, description=description,
                builtin=False, created_at=at, updated_at=at))
            if kind == "list":
                list_version.bump(conn, tenant_id)
            audit.record(conn, actor, "supplier.create", name, tenant_id=tenant_id,
                         details={"kind": kind, "description": description})
            return self._get(conn, name, tenant)

    def update(self, actor: Actor, name: str, *, new_name: str | None = None,
               description: str | None = None, tenant: str = DEFAULT_TENANT) -> Supplier:
        """Rename a supplier or change its description; a built-in keeps its name."""
        s = schema.suppliers
        with self._db.write() as conn:
            tenant_id = self._db.tenant_id(conn, tenant)
            row = supplier_row(conn, tenant_id, name)
            values: dict[str, object] = {}
            if new_name is not None and new_name != name:
                if row.builtin:
                    raise ReservedName(f"{name!r} is a built-in supplier: it cannot be renamed")
                check_name("supplier", new_name)
                _check_not_reserved(new_name)
                taken = conn.execute(sa.select(s.c.id).where(
                    s.c.tenant_id == tenant_id, s.c.name == new_name)).first()
                if taken is not None:
                    raise AlreadyExists(f"supplier {new_name!r} exists")
                values["name"] = new_name
            if description is not None:
                values["description"] = check_text("description", description,
                                                   longest=MAX_TEXT)
            conn.execute(sa.update(s).where(s.c.id == row.id).values(updated_at=now(), **values))
            if row.kind == "list" and "name" in values:
                list_version.bump(conn, tenant_id)
            audit.record(conn, actor, "supplier.update", name, tenant_id=tenant_id,
                         details=values)
            return self._get(conn, new_name or name, tenant)

    def delete(self, actor: Actor, name: str, *, tenant: str = DEFAULT_TENANT) -> None:
        """Delete a supplier and its indicators; a built-in cannot be deleted."""
        with self._db.write() as conn:
            tenant_id = self._db.tenant_id(conn, tenant)
            row = supplier_row(conn, tenant_id, name)
            if row.builtin:
                raise ReservedName(f"{name!r} is a built-in supplier: it cannot be deleted")
            i = schema.indicators
            count = conn.execute(sa.select(sa.func.count()).where(
                i.c.supplier_id == row.id)).scalar_one()
            conn.execute(sa.delete(schema.suppliers).where(schema.suppliers.c.id == row.id))
            if row.kind == "list":
                list_version.bump(conn, tenant_id)
            audit.record(conn, actor, "supplier.delete", name, tenant_id=tenant_id,
                         details={"kind": row.kind, "indicators": count})
