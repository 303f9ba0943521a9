"""Dashboard, Detections and Feeds.

    GET  /                              counters, charts, top indicators, feeds health
    GET  /detections?range=24h&category=...&feed=...&source=...&indicator=...&cursor=...
                                        (&tenant=NAME: another tenant, the picker's)
    GET  /detections/{id}?at=TIME       one detection: context and the original event
    GET  /feeds                         status, last success and error, records, schedule
    POST /feeds/{name}/update|enable|disable   (feeds.manage)
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from starlette.responses import Response

from trapline.security.roles import Permission
from trapline.service.feed_actions import FeedBusy
from trapline.service.http.errors import ApiError
from trapline.service.http.operations import Operation, needs
from trapline.service.rates import service_rates
from trapline.store import FALSE_POSITIVE, INTERNAL_TI, DetectionQuery
from trapline.web import setup_pages
from trapline.web.charts import stacked_bars
from trapline.web.guard import PageCall

HOUR, DAY = 3600.0, 86400.0
RANGES = {"1h": HOUR, "24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY, "all": 0.0}
PAGE = 50


def _feeds(call: PageCall) -> list[Any]:
    actions = call.context.feed_actions
    return actions.status() if actions is not None else []


def _dashboard_data(call: PageCall) -> dict[str, Any]:
    store, tenant = call.store, call.tenant
    end = (time.time() // HOUR + 1) * HOUR
    start = end - DAY
    window = DetectionQuery(tenant=tenant, start=start, end=end)
    charts = {}
    for by in ("category", "feed"):
        series = {}
        for stat in store.detections.stats(by, window, limit=8):
            key = str(stat.key)
            query = DetectionQuery(tenant=tenant, start=start, end=end, **{by: key})
            series[key] = {float(s.key): s.count
                           for s in store.detections.timeline(query, bucket=HOUR)}
        charts[by] = stacked_bars(start, end, HOUR, series)
    recent = store.detections.search(window, limit=1000).items
    top = Counter((d.indicator, d.category) for d in recent).most_common(10)
    lists = {name: store.indicators.page(name, tenant=tenant, limit=1).total or 0
             for name in (INTERNAL_TI, FALSE_POSITIVE)}
    return {"charts": charts, "top": top, "sampled": len(recent),
            "detections_24h": store.detections.count(window),
            "detections_1h": store.detections.count(
                DetectionQuery(tenant=tenant, start=time.time() - HOUR, end=end)),
            "lists": lists, "feeds": _feeds(call)}


async def dashboard(call: PageCall) -> Response:
    data = await call.run(_dashboard_data, call)
    context = call.context
    counters = context.stats.all_counters()
    uptime = max(time.monotonic() - context.started, 1.0)
    snapshot = 0
    if context.snapshot_version is not None:
        try:
            snapshot = context.snapshot_version()
        except Exception:  # no snapshot yet: shown as 0, the alerts say why
            snapshot = 0
    alerts = [f"Feed {f.name}: {f.last_error}" for f in data["feeds"]
              if f.last_error and (f.last_success or 0) < (f.last_error_at or 0)]
    alerts += [f"Feed {f.name} is outdated (last success "
               f"{int((time.time() - f.last_success) // 60)} min ago)"
               for f in data["feeds"] if f.outdated and f.last_success]
    if not snapshot:
        alerts.append("No snapshot is loaded: lookups are unavailable.")
    rates = _rates(context, counters, uptime)
    return call.render("dashboard.html", title="Dashboard", snapshot=snapshot, rates=rates,
                       setup_pending=await setup_pages.setup_pending(call),
                       counters=counters, alerts=alerts, uptime=uptime, **data)


def _rates(context: Any, counters: dict[str, int], uptime: float) -> dict[str, Any]:
    """Lookups and events per second of the whole service (every worker's published
    rates over the last 10 s, trapline/service/rates.py); outside ``trapline serve``,
    this worker's average since it started."""
    settings = getattr(context, "settings", None)
    service = service_rates(Path(settings.data_dir)) if settings is not None else None
    if service is not None:
        workers = f"{service.workers} worker{'s' if service.workers != 1 else ''}"
        return {"lookups": service.lookups_per_s, "events": service.events_per_s,
                "scope": "last 10 s", "detail": f"the sum of {workers}, over the last 10 s"}
    return {"lookups": (counters.get("http_observables", 0) + counters.get("observables", 0))
            / uptime, "events": counters.get("events", 0) / uptime,
            "scope": "since start", "detail": "this worker, since it started"}


# -- detections ---------------------------------------------------------------------------


def _filters(call: PageCall) -> dict[str, str]:
    wanted = {name: call.arg(name).strip()[:256]
              for name in ("category", "feed", "source", "indicator")}
    wanted["range"] = call.arg("range", "24h") if call.arg("range", "24h") in RANGES else "24h"
    return wanted


async def detections(call: PageCall) -> Response:
    wanted = _filters(call)
    span = RANGES[wanted["range"]]
    query = DetectionQuery(tenant=call.tenant, start=time.time() - span if span else None,
                           category=wanted["category"] or None, feed=wanted["feed"] or None,
                           source=wanted["source"] or None,
                           indicator=wanted["indicator"] or None)
    cursor = call.arg("cursor")[:64] or None
    page = await call.run(call.store.detections.search, query, limit=PAGE, cursor=cursor)
    total = await call.run(call.store.detections.count, query)
    facets = {by: await call.run(call.store.detections.stats, by,
                                 DetectionQuery(tenant=call.tenant), limit=50)
              for by in ("category", "feed", "source")}
    base = {k: v for k, v in wanted.items() if v}
    next_url = call.in_tenant(f"/detections?{urlencode({**base, 'cursor': page.next_cursor})}"
                              ) if page.next_cursor else ""
    return call.render("detections.html", title="Detections", items=page.items,
                       total=total, filters=wanted, facets=facets, ranges=list(RANGES),
                       next_url=next_url,
                       first_url=call.in_tenant(f"/detections?{urlencode(base)}"),
                       paged=cursor is not None)


async def detection(call: PageCall) -> Response:
    text, at = call.path("id"), call.arg("at")
    try:
        row_id, moment = int(text), float(at)
    except ValueError:
        raise ApiError(404, "no such detection") from None
    # Keyset paging gives the row at (time, id) as the first one before (time, id + 1).
    page = await call.run(call.store.detections.search, DetectionQuery(tenant=call.tenant),
                          limit=1, cursor=f"{moment!r}/{row_id + 1}")
    if not page.items or page.items[0].id != row_id:
        raise ApiError(404, f"no detection {row_id} in tenant {call.tenant!r}")
    found = page.items[0]
    return call.render("detection.html", title="Detection", d=found,
                       indicator_url=call.in_tenant(
                           f"/indicators?value={quote(found.observable, safe='')}"))


# -- feeds ----------------------------------------------------------------------------------

FEED_NOTICES = {"updating": "Update started; refresh to see its outcome.",
                "enabled": "Feed switched on; the snapshot is being rebuilt.",
                "disabled": "Feed switched off; the snapshot is being rebuilt.",
                "custom-added": "Custom feed kept: apply it to the configuration file and "
                                "reload the service.",
                "custom-removed": "Custom feed forgotten."}


async def feeds(call: PageCall) -> Response:
    views = await call.run(_feeds, call)
    may_add = call.user.can(Permission.SETTINGS_MANAGE)
    custom = await call.run(call.store.settings.get, "feeds.custom", []) if may_add else []
    return call.render("feeds.html", title="Feeds", feeds=views, may_add=may_add,
                       custom=custom if isinstance(custom, list) else [],
                       notice=FEED_NOTICES.get(call.arg("notice"), ""),
                       may_manage=call.user.can(Permission.FEEDS_MANAGE),
                       configured=call.context.feed_actions is not None)


def _feed(call: PageCall) -> str:
    actions = call.context.feed_actions
    name = call.path("name")
    if actions is None:
        raise ApiError(503, "feeds are not configured in this worker")
    if name not in actions.feeds:
        raise ApiError(404, f"no feed named {name[:128]!r}")
    return name


async def feed_update(call: PageCall) -> Response:
    name = _feed(call)
    assert call.context.feed_actions is not None
    try:
        await call.context.feed_actions.update(name)
    except FeedBusy as exc:
        raise ApiError(409, str(exc)) from None
    await asyncio.sleep(0)
    return call.redirect("/feeds?notice=updating")


async def _switch(call: PageCall, enabled: bool) -> Response:
    name = _feed(call)
    assert call.context.feed_actions is not None
    await call.context.feed_actions.set_enabled(call.actor, name, enabled)
    return call.redirect("/feeds?notice=" + ("enabled" if enabled else "disabled"))


async def feed_enable(call: PageCall) -> Response:
    return await _switch(call, True)


async def feed_disable(call: PageCall) -> Response:
    return await _switch(call, False)


READ = needs(Permission.READ, tenant=True)
MANAGE = needs(Permission.FEEDS_MANAGE)

OPERATIONS = [
    Operation("GET", "/", dashboard, READ, "Dashboard", "web"),
    Operation("GET", "/detections", detections, READ, "Detections page", "web"),
    Operation("GET", "/detections/{id}", detection, READ, "One detection", "web"),
    Operation("GET", "/feeds", feeds, needs(Permission.READ), "Feeds page", "web"),
    Operation("POST", "/feeds/{name}/update", feed_update, MANAGE, "Update a feed now", "web"),
    Operation("POST", "/feeds/{name}/enable", feed_enable, MANAGE, "Switch a feed on", "web"),
    Operation("POST", "/feeds/{name}/disable", feed_disable, MANAGE, "Switch a feed off",
              "web"),
]
