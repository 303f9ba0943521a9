"""The vendor's management API (protocol.md section 2): suppliers, their indicators, tags.

Under ``/api/1.0``, ``1.1`` and ``1.2`` (the user's tenant, or ``?tenant=``
for an Administrator) and ``/api/1.3/{tenant}``:

    GET/POST          /suppliers                  list, add (FEEDS_MANAGE)
    GET/PUT/DELETE    /suppliers/{supplier}       show, rename or describe, delete
    PUT/DELETE        /suppliers/{supplier}/indicators   add or update, delete by value
    GET/POST          /tags;  GET/PUT/DELETE /tags/{tag}

Bodies are the vendor's: a JSON array of objects, ``[{"indicator": "...",
"context": {...}}]`` (``value`` and ``object`` are read as ``indicator``
too); answers to changes are ``[{"status": "..."}]``, errors
``[{"status": "error", "reason": "..."}]``. ``PUT /suppliers/InternalTI/
indicators`` adds to the deny list (``internal_ti.add``); ``.../FalsePositive/
indicators`` marks false positives (``false_positive.write``); the two
built-in suppliers cannot be created, renamed or deleted (409). Other
suppliers and tags are managed with ``feeds.manage``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from starlette.convertors import Convertor, register_url_convertor

from trapline.security.roles import Permission
from trapline.service.http.errors import ApiError
from trapline.service.http.lists_api import checked_kind, checked_value
from trapline.service.http.operations import Call, Operation, json_response, needs
from trapline.service.http.schemas import (
    TagOut,
    VendorDeleteStatus,
    VendorIndicatorIn,
    VendorIndicatorRef,
    VendorPutStatus,
    VendorStatus,
    VendorSupplier,
    VendorSupplierIn,
    VendorTagIn,
)
from trapline.store import FALSE_POSITIVE, INTERNAL_TI, IndicatorInput, Supplier, Tag

T = TypeVar("T")
VERSIONS = ("1.0", "1.1", "1.2")


class VersionConvertor(Convertor[str]):
    """``{version:vendor}``: the API versions that name no tenant."""

    regex = r"1\.[012]"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("vendor", VersionConvertor())

PREFIXES = ("/api/{version:vendor}", "/api/1.3/{tenant}")


def _one_or_many(body: list[T] | T) -> list[T]:
    items = body if isinstance(body, list) else [body]
    if not items:
        raise ApiError(400, "malformed request: the array holds no object")
    return items


def _value(item: VendorIndicatorIn | VendorIndicatorRef) -> str:
    given = [v for v in (item.indicator, item.value, item.object) if v is not None]
    if len(given) != 1:
        raise ApiError(400, "malformed request: each indicator needs exactly one of "
                            "indicator, value or object")
    return given[0]


def supplier_out(supplier: Supplier) -> VendorSupplier:
    return VendorSupplier(name=supplier.name, status="enabled", kind=supplier.kind,
                          builtin=supplier.builtin, vendor=supplier.description,
                          indicators=supplier.indicators)


def tag_out(tag: Tag) -> TagOut:
    return TagOut(name=tag.name, color=tag.color, description=tag.description,
                  created_at=tag.created_at, updated_at=tag.updated_at)


def ok(status: str, code: int = 200) -> Any:
    return json_response([VendorStatus(status)], code)


# -- suppliers --------------------------------------------------------------------------


async def list_suppliers(call: Call) -> list[VendorSupplier]:
    return [supplier_out(s) for s in await call.run(call.store.suppliers.all,
                                                    tenant=call.tenant)]


async def create_supplier(call: Call) -> Any:
    items = _one_or_many(await call.body(list[VendorSupplierIn] | VendorSupplierIn))  # type: ignore[arg-type]
    if len(items) != 1 or not items[0].name:
        raise ApiError(400, "malformed request: give one supplier object with a name")
    item = items[0]
    await call.run(call.store.suppliers.create, call.actor, item.name,
                   description=item.vendor or item.description or "", tenant=call.tenant)
    return ok("Supplier successfully created", 201)


async def get_supplier(call: Call) -> list[VendorSupplier]:
    return [supplier_out(await call.run(call.store.suppliers.get, call.path("supplier"),
                                        tenant=call.tenant))]


async def update_supplier(call: Call) -> Any:
    items = _one_or_many(await call.body(list[VendorSupplierIn] | VendorSupplierIn))  # type: ignore[arg-type]
    if len(items) != 1:
        raise ApiError(400, "malformed request: give one supplier object")
    item = items[0]
    if item.status not in (None, "enabled"):
        raise ApiError(400, "a supplier's status cannot be changed here (always enabled)")
    description = item.vendor if item.vendor is not None else item.description
    await call.run(call.store.suppliers.update, call.actor, call.path("supplier"),
                   new_name=item.name, description=description, tenant=call.tenant)
    return ok("Supplier successfully updated")


async def delete_supplier(call: Call) -> Any:
    await call.run(call.store.suppliers.delete, call.actor, call.path("supplier"),
                   tenant=call.tenant)
    return ok("Supplier successfully removed")


# -- indicators -------------------------------------------------------------------------


def indicator_input(item: VendorIndicatorIn) -> IndicatorInput:
    kind = checked_kind(item.type)
    return IndicatorInput(value=checked_value(_value(item), kind), kind=kind,
                          category=item.category, context=item.context, tags=tuple(item.tags),
                          comment=item.comment, valid_until=item.valid_until)


def indicator_operations(prefix: str, supplier: str | None, add: Permission,
                         delete: Permission) -> list[Operation]:
    """PUT and DELETE of one supplier's indicators (``supplier`` None: any supplier)."""

    def name(call: Call) -> str:
        return supplier if supplier is not None else call.path("supplier")

    async def put(call: Call) -> Any:
        body: Sequence[VendorIndicatorIn] = _one_or_many(
            await call.body(list[VendorIndicatorIn] | VendorIndicatorIn))  # type: ignore[arg-type]
        entries = [indicator_input(item) for item in body]
        result = await call.run(call.store.indicators.put, call.actor, name(call), entries,
                                tenant=call.tenant)
        return [VendorPutStatus("Indicators successfully added or updated", result.added,
                                result.updated)]

    async def remove(call: Call) -> Any:
        body: Sequence[VendorIndicatorRef] = _one_or_many(
            await call.body(list[VendorIndicatorRef] | VendorIndicatorRef))  # type: ignore[arg-type]
        values = [_value(item) for item in body]
        deleted = await call.run(call.store.indicators.delete, call.actor, name(call), values,
                                 tenant=call.tenant)
        return [VendorDeleteStatus("Indicators successfully deleted from the database",
                                   deleted)]

    path = f"{prefix}/suppliers/{supplier or '{supplier}'}/indicators"
    shown = supplier or "a supplier"
    tenant = prefix.endswith("{tenant}")
    return [
        Operation("PUT", path, put, needs(add, tenant=True),
                  f"Add or update indicators of {shown}", "vendor",
                  body=list[VendorIndicatorIn], response=list[VendorPutStatus],
                  example=[{"indicator": "198.51.100.7", "category": "KL_InternalTI_IP",
                            "context": {"ticket": "INC-42"}}],
                  description=_tenant_note(tenant)),
        Operation("DELETE", path, remove, needs(delete, tenant=True),
                  f"Delete indicators of {shown} by value", "vendor",
                  body=list[VendorIndicatorRef], response=list[VendorDeleteStatus],
                  example=[{"indicator": "198.51.100.7"}], description=_tenant_note(tenant)),
    ]


# -- tags -------------------------------------------------------------------------------


async def list_tags(call: Call) -> list[TagOut]:
    return [tag_out(t) for t in await call.run(call.store.tags.all, tenant=call.tenant)]


async def create_tag(call: Call) -> Any:
    items = _one_or_many(await call.body(list[VendorTagIn] | VendorTagIn))  # type: ignore[arg-type]
    if len(items) != 1 or not items[0].name:
        raise ApiError(400, "malformed request: give one tag object with a name")
    item = items[0]
    await call.run(call.store.tags.create, call.actor, item.name, color=item.color or "",
                   description=item.description or "", tenant=call.tenant)
    return ok("Tag successfully created", 201)


async def get_tag(call: Call) -> list[TagOut]:
    return [tag_out(await call.run(call.store.tags.get, call.path("tag"),
                                   tenant=call.tenant))]


async def update_tag(call: Call) -> Any:
    items = _one_or_many(await call.body(list[VendorTagIn] | VendorTagIn))  # type: ignore[arg-type]
    if len(items) != 1:
        raise ApiError(400, "malformed request: give one tag object")
    item = items[0]
    await call.run(call.store.tags.update, call.actor, call.path("tag"), new_name=item.name,
                   color=item.color, description=item.description, tenant=call.tenant)
    return ok("Tag successfully updated")


async def delete_tag(call: Call) -> Any:
    await call.run(call.store.tags.delete, call.actor, call.path("tag"), tenant=call.tenant)
    return ok("Tag successfully deleted")


def _tenant_note(in_path: bool) -> str:
    return ("In the tenant of the path; an Analyst only in their own." if in_path else
            "In the user's tenant (an Administrator may name another with ?tenant=).")


def prefix_operations(prefix: str) -> list[Operation]:
    read = needs(Permission.READ, tenant=True)
    manage = needs(Permission.FEEDS_MANAGE, tenant=True)
    note = _tenant_note(prefix.endswith("{tenant}"))
    supplier_example = [{"name": "ExampleSupplier", "vendor": "ExampleVendor"}]
    tag_example = [{"name": "WIN-TROJAN", "color": "#aa0000"}]
    s, t = f"{prefix}/suppliers", f"{prefix}/tags"
    return [
        Operation("GET", s, list_suppliers, read, "The tenant's suppliers", "vendor",
                  response=list[VendorSupplier], description=note),
        Operation("POST", s, create_supplier, manage, "Add a supplier (a list)", "vendor",
                  body=list[VendorSupplierIn], response=list[VendorStatus], status=201,
                  errors=(409,), example=supplier_example, description=note),
        Operation("GET", s + "/{supplier}", get_supplier, read, "One supplier", "vendor",
                  response=list[VendorSupplier], description=note),
        Operation("PUT", s + "/{supplier}", update_supplier, manage,
                  "Rename a supplier or change its vendor", "vendor",
                  body=list[VendorSupplierIn], response=list[VendorStatus], errors=(409,),
                  example=[{"name": "NewName"}], description=note),
        Operation("DELETE", s + "/{supplier}", delete_supplier, manage,
                  "Delete a supplier and its indicators", "vendor",
                  response=list[VendorStatus], errors=(409,), description=note),
        # The built-in lists first: each has its own permission (Starlette tries in order).
        *indicator_operations(prefix, INTERNAL_TI, Permission.INTERNAL_TI_ADD,
                              Permission.INTERNAL_TI_DELETE),
        *indicator_operations(prefix, FALSE_POSITIVE, Permission.FALSE_POSITIVE_WRITE,
                              Permission.FALSE_POSITIVE_WRITE),
        *indicator_operations(prefix, None, Permission.FEEDS_MANAGE, Permission.FEEDS_MANAGE),
        Operation("GET", t, list_tags, read, "The tenant's tags", "vendor",
                  response=list[TagOut], description=note),
        Operation("POST", t, create_tag, manage, "Add a tag", "vendor",
                  body=list[VendorTagIn], response=list[VendorStatus], status=201,
                  errors=(409,), example=tag_example, description=note),
        Operation("GET", t + "/{tag}", get_tag, read, "One tag", "vendor",
                  response=list[TagOut], description=note),
        Operation("PUT", t + "/{tag}", update_tag, manage, "Rename or change a tag", "vendor",
                  body=list[VendorTagIn], response=list[VendorStatus], errors=(409,),
                  example=[{"color": "#00aa00"}], description=note),
        Operation("DELETE", t + "/{tag}", delete_tag, manage,
                  "Delete a tag (and detach it from indicators)", "vendor",
                  response=list[VendorStatus], description=note),
    ]


OPERATIONS = [op for prefix in PREFIXES for op in prefix_operations(prefix)]
