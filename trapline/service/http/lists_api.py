"""InternalTI and FalsePositive, a tenant's own lists: read, add, remove.

    GET    /api/v1/lists/InternalTI?search=evil&limit=50&cursor=50
    POST   /api/v1/lists/InternalTI        [{"value": "198.51.100.7", "category": "C2"}]
    DELETE /api/v1/lists/InternalTI/{value}    (the value URL-encoded: http%3A%2F%2Fx%2Fy)

Thin wrappers over ``store.indicators``; each list has routes of its own, so
each names its permission: adding to InternalTI is ``internal_ti.add``,
removing ``internal_ti.delete``; marking and unmarking false positives
``false_positive.write``. A value must be an indicator (of its ``kind`` when
one is given); it is stored as given and canonicalized when the workers load
the lists (within a second).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.responses import Response

from trapline.indicators import InvalidIndicator, Kind, normalize
from trapline.security.roles import Permission
from trapline.service.http.errors import ApiError
from trapline.service.http.operations import Call, Operation, Param, needs
from trapline.service.http.schemas import (
    ListIndicatorIn,
    ListIndicatorOut,
    ListPage,
    PutResultOut,
)
from trapline.store import FALSE_POSITIVE, INTERNAL_TI, Indicator, IndicatorInput

KINDS = {kind.value for kind in Kind}
# Kind names other tools use that mean "find out from the value".
ALIASES = {"": "", "ip": "", "hash": "", "auto": "", "ipv4": "ipv4", "ipv6": "ipv6",
           "url_mask": "url-mask", "mask": "url-mask", "hostname": "domain", "fqdn": "domain"}


def checked_kind(kind: str | None) -> str:
    """A kind as the store keeps it ("" = detect); 400 for an unknown one."""
    text = (kind or "").strip().lower()
    if text in KINDS:
        return text
    if text in ALIASES:
        return ALIASES[text]
    raise ApiError(400, f"unknown indicator kind {kind[:40] if kind else kind!r} "
                        f"(one of {', '.join(sorted(KINDS))})")


def checked_value(value: str, kind: str) -> str:
    """``value`` when it is an indicator (of ``kind``); 400 naming it otherwise."""
    try:
        normalize(value, kind or None)
    except (InvalidIndicator, ValueError) as exc:
        raise ApiError(400, f"not an indicator: {value[:200]!r}: {exc}") from None
    return value


def indicator_input(item: ListIndicatorIn) -> IndicatorInput:
    kind = checked_kind(item.kind)
    return IndicatorInput(value=checked_value(item.value, kind), kind=kind,
                          category=item.category, context=item.context,
                          tags=tuple(item.tags), comment=item.comment,
                          valid_until=item.valid_until)


def indicator_out(indicator: Indicator) -> ListIndicatorOut:
    return ListIndicatorOut(id=indicator.id, value=indicator.value, kind=indicator.kind,
                            category=indicator.category, context=indicator.context,
                            tags=list(indicator.tags), comment=indicator.comment,
                            added_by=indicator.added_by, created_at=indicator.created_at,
                            updated_at=indicator.updated_at,
                            valid_until=indicator.valid_until)


def list_operations(name: str, add: Permission, delete: Permission) -> list[Operation]:
    """The three routes of one list."""

    async def read(call: Call) -> ListPage:
        limit = call.int_query("limit", 100, 1, 1000)
        offset = call.int_query("cursor", 0, 0, 1 << 40)
        page = await call.run(call.store.indicators.page, name, tenant=call.tenant,
                              search=call.query("search") or None, limit=limit,
                              offset=offset)
        return ListPage(items=[indicator_out(i) for i in page.items], total=page.total,
                        next_cursor=page.next_cursor)

    async def put(call: Call) -> PutResultOut:
        body = await call.body(list[ListIndicatorIn] | ListIndicatorIn)  # type: ignore[arg-type]
        items: Sequence[ListIndicatorIn] = body if isinstance(body, list) else [body]
        if not items:
            raise ApiError(400, "malformed request: at least one indicator must be given")
        entries = [indicator_input(item) for item in items]
        result = await call.run(call.store.indicators.put, call.actor, name, entries,
                                tenant=call.tenant)
        return PutResultOut(added=result.added, updated=result.updated)

    async def remove(call: Call) -> Response:
        value = call.path("value")
        # NotFound (404) first: the store audits a delete that finds nothing too.
        await call.run(call.store.indicators.get, name, value, tenant=call.tenant)
        await call.run(call.store.indicators.delete, call.actor, name, [value],
                       tenant=call.tenant)
        return Response(status_code=204)

    path = f"/api/v1/lists/{name}"
    return [
        Operation("GET", path, read, needs(Permission.READ, tenant=True),
                  f"The {name} list, a page at a time", "lists", response=ListPage,
                  query=(Param("search", {"type": "string"},
                               "values containing this text (case-insensitive)"),
                         Param("limit", {"type": "integer", "minimum": 1, "maximum": 1000},
                               "page size (default 100)"),
                         Param("cursor", {"type": "string"},
                               "next_cursor of the previous page"))),
        Operation("POST", path, put, needs(add, tenant=True),
                  f"Add indicators to {name} (or update them)", "lists",
                  body=list[ListIndicatorIn], response=PutResultOut,
                  example=[{"value": "198.51.100.7", "category": "C2",
                            "context": {"ticket": "INC-42"}}],
                  description="A JSON array of indicators (or one object). A value already "
                              "held is updated."),
        Operation("DELETE", path + "/{value:path}", remove, needs(delete, tenant=True),
                  f"Remove one value from {name}", "lists", status=204,
                  description="The value URL-encoded in the path, exactly as it was added."),
    ]


OPERATIONS = [
    *list_operations(INTERNAL_TI, Permission.INTERNAL_TI_ADD, Permission.INTERNAL_TI_DELETE),
    *list_operations(FALSE_POSITIVE, Permission.FALSE_POSITIVE_WRITE,
                     Permission.FALSE_POSITIVE_WRITE),
]
