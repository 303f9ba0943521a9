"""Feeds: their configuration and state; update now; switch on and off.

    GET  /api/v1/feeds                       every configured feed and its state
    GET  /api/v1/feeds/{name}                one (the status URL of an update)
    POST /api/v1/feeds/{name}/update         202, the update runs in the background; 409 busy
    POST /api/v1/feeds/{name}/enable|disable 202, the snapshot is rebuilt in the background

The work is ``trapline.service.feed_actions``: the feed updater in a thread of
the worker asked, under the data directory's lock, so it never overlaps the
scheduler or another worker.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import Response

from trapline.security.roles import Permission
from trapline.service.feed_actions import FeedActions, FeedBusy, FeedView
from trapline.service.http.errors import ApiError
from trapline.service.http.operations import Call, Operation, json_response, needs
from trapline.service.http.schemas import FeedJob


def actions(call: Call) -> FeedActions:
    found = call.context.feed_actions
    if found is None:
        raise ApiError(503, "feeds are not configured in this worker")
    return found


def known(call: Call) -> str:
    name = call.path("name")
    if name not in actions(call).feeds:
        raise ApiError(404, f"no feed named {name[:128]!r}")
    return name


async def list_feeds(call: Call) -> list[FeedView]:
    return await call.run(actions(call).status)


async def get_feed(call: Call) -> FeedView:
    name = known(call)
    return (await call.run(actions(call).status, [name]))[0]


async def update(call: Call) -> Response:
    name = known(call)
    try:
        await actions(call).update(name)
    except FeedBusy as exc:
        raise ApiError(409, str(exc)) from None
    url = f"/api/v1/feeds/{quote(name, safe='')}"
    return json_response(FeedJob(feed=name, status="updating", status_url=url), 202,
                         {"Location": url})


async def switch(call: Call, enabled: bool) -> Response:
    name = known(call)
    await actions(call).set_enabled(call.actor, name, enabled)
    view = (await call.run(actions(call).status, [name]))[0]
    return json_response(view, 202, {"Location": f"/api/v1/feeds/{quote(name, safe='')}"})


async def enable(call: Call) -> Response:
    return await switch(call, True)


async def disable(call: Call) -> Response:
    return await switch(call, False)


READ = needs(Permission.READ)
MANAGE = needs(Permission.FEEDS_MANAGE)

OPERATIONS = [
    Operation("GET", "/api/v1/feeds", list_feeds, READ, "The configured feeds and their state",
              "feeds", response=list[FeedView]),
    Operation("GET", "/api/v1/feeds/{name}", get_feed, READ, "One feed and its state",
              "feeds", response=FeedView),
    Operation("POST", "/api/v1/feeds/{name}/update", update, MANAGE,
              "Update a feed now, in the background", "feeds", response=FeedJob, status=202,
              errors=(409,), description="409 when an update runs already (in any process "
                                         "of this node) or the feed is disabled."),
    Operation("POST", "/api/v1/feeds/{name}/enable", enable, MANAGE,
              "Switch a feed on; rebuild the snapshot with it", "feeds", response=FeedView,
              status=202),
    Operation("POST", "/api/v1/feeds/{name}/disable", disable, MANAGE,
              "Switch a feed off; rebuild the snapshot without it", "feeds",
              response=FeedView, status=202),
]
