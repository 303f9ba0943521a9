"""Tags: the tenant's tags, and the tags on InternalTI and FalsePositive entries.

    GET  /indicators/tags                        the tags, how many entries carry each
    POST /indicators/tags                        create one (feeds.manage, as the vendor API)
    POST /indicators/tags/delete                 delete one no entry carries (feeds.manage)
    POST /indicators/internal-ti/tags            tag an InternalTI entry (internal_ti.add)
    POST /indicators/internal-ti/tags/delete     untag it (internal_ti.add)
    POST /indicators/false-positive/tags         tag a FalsePositive entry (false_positive.write)
    POST /indicators/false-positive/tags/delete  untag it (false_positive.write)

Each acts in the page's tenant (``?tenant=`` of the form's action, as every tenant page);
the store audits every change (``tag.create``, ``tag.delete``, ``indicators.tag``,
``indicators.untag``) and bumps the tenant's lists version when an entry changes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.responses import Response

from trapline.security.roles import Permission
from trapline.service.http.errors import ApiError
from trapline.service.http.operations import Operation, needs
from trapline.store import FALSE_POSITIVE, INTERNAL_TI, AlreadyExists, InvalidInput
from trapline.web.guard import PageCall

NOTICES = {"created": "Tag created.", "deleted": "Tag deleted."}
DEFAULT_COLOR = "#1f5fbf"


async def _page(call: PageCall, status: int = 200, error: str = "",
                typed: dict[str, str] | None = None) -> Response:
    tags = await call.run(call.store.tags.all, tenant=call.tenant)
    usage = await call.run(call.store.tags.usage, tenant=call.tenant)
    return call.render("tags.html", status, title="Tags", tags=tags, usage=usage,
                       notice="" if error else NOTICES.get(call.arg("notice"), ""),
                       error=error, typed=typed or {"color": DEFAULT_COLOR},
                       may_manage=call.user.can(Permission.FEEDS_MANAGE))


async def tags_page(call: PageCall) -> Response:
    return await _page(call)


def _name(call: PageCall) -> str:
    name = call.field("name")
    if not name:
        raise ApiError(400, "no tag name was given")
    return name


async def create_tag(call: PageCall) -> Response:
    typed = {"name": call.field("name")[:200], "color": call.field("color")[:20],
             "description": call.field("description")[:4096]}
    try:
        await call.run(call.store.tags.create, call.actor, _name(call),
                       color=typed["color"], description=typed["description"],
                       tenant=call.tenant)
    except (AlreadyExists, InvalidInput) as exc:
        return await _page(call, 409 if isinstance(exc, AlreadyExists) else 400, str(exc),
                           typed)
    return call.redirect(call.in_tenant("/indicators/tags?notice=created"))


async def delete_tag(call: PageCall) -> Response:
    try:
        await call.run(call.store.tags.delete, call.actor, _name(call), tenant=call.tenant,
                       unused_only=True)
    except InvalidInput as exc:  # in use: the page says on how many entries
        return await _page(call, 409, str(exc))
    return call.redirect(call.in_tenant("/indicators/tags?notice=deleted"))


def _entry_tag(supplier: str, attach: bool) -> Callable[[PageCall], Awaitable[Response]]:
    """The handler that adds (``attach``) or removes a tag on one entry of ``supplier``."""

    async def handler(call: PageCall) -> Response:
        value, tag = call.field("value"), call.field("tag")
        if not value or not tag:
            raise ApiError(400, "give the value and the tag")
        change = call.store.indicators.tag if attach else call.store.indicators.untag
        await call.run(change, call.actor, supplier, value, tag, tenant=call.tenant)
        notice = "tagged" if attach else "untagged"
        return call.redirect(call.in_tenant(
            f"/indicators?value={quote(value, safe='')}&notice={notice}"))

    return handler


READ = needs(Permission.READ, tenant=True)
MANAGE = needs(Permission.FEEDS_MANAGE, tenant=True)
TAG_ITI = needs(Permission.INTERNAL_TI_ADD, tenant=True)
TAG_FP = needs(Permission.FALSE_POSITIVE_WRITE, tenant=True)

OPERATIONS = [
    Operation("GET", "/indicators/tags", tags_page, READ, "Tags page", "web"),
    Operation("POST", "/indicators/tags", create_tag, MANAGE, "Create a tag", "web"),
    Operation("POST", "/indicators/tags/delete", delete_tag, MANAGE, "Delete an unused tag",
              "web"),
    Operation("POST", "/indicators/internal-ti/tags", _entry_tag(INTERNAL_TI, True), TAG_ITI,
              "Tag an InternalTI entry", "web"),
    Operation("POST", "/indicators/internal-ti/tags/delete", _entry_tag(INTERNAL_TI, False),
              TAG_ITI, "Untag an InternalTI entry", "web"),
    Operation("POST", "/indicators/false-positive/tags", _entry_tag(FALSE_POSITIVE, True),
              TAG_FP, "Tag a FalsePositive entry", "web"),
    Operation("POST", "/indicators/false-positive/tags/delete",
              _entry_tag(FALSE_POSITIVE, False), TAG_FP, "Untag a FalsePositive entry", "web"),
]
