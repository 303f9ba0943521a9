"""Detections of a tenant: search with keyset paging, statistics, a timeline.

    GET /api/v1/detections?from=2026-11-01T00:00:00Z&category=Demo_IP_Reputation&limit=50
    GET /api/v1/detections?cursor=<next_cursor of the previous page>
    GET /api/v1/detections/stats?by=feed
    GET /api/v1/detections/timeline?from=...&to=...&bucket=3600

Times are epoch seconds or ISO 8601; ``from`` is inclusive, ``to`` exclusive.
"""

from __future__ import annotations

import math
import time

from trapline.security.roles import Permission
from trapline.service.http.errors import ApiError
from trapline.service.http.operations import Call, Operation, Param, needs
from trapline.service.http.schemas import DetectionOut, DetectionPage, StatOut
from trapline.store import DetectionQuery

DAY = 86400.0
TIME = {"type": "string", "description": "epoch seconds or ISO 8601"}
FILTERS = (
    Param("from", TIME, "detections at or after this time"),
    Param("to", TIME, "detections before this time"),
    Param("category", {"type": "string"}, "only this category"),
    Param("feed", {"type": "string"}, "only this feed"),
    Param("source", {"type": "string"}, "only this event source"),
    Param("indicator", {"type": "string"}, "matched indicators containing this text "
                                           "(case-insensitive)"),
)
LIMIT = Param("limit", {"type": "integer", "minimum": 1, "maximum": 1000},
              "page size (default 100)")


def query(call: Call) -> DetectionQuery:
    start, end = call.time_query("from"), call.time_query("to")
    return DetectionQuery(tenant=call.tenant, start=start, end=end,
                          category=call.query("category") or None,
                          feed=call.query("feed") or None,
                          source=call.query("source") or None,
                          indicator=call.query("indicator") or None)


async def search(call: Call) -> DetectionPage:
    wanted = query(call)
    limit = call.int_query("limit", 100, 1, 1000)
    page = await call.run(call.store.detections.search, wanted, limit=limit,
                          cursor=call.query("cursor") or None)
    return DetectionPage(items=[DetectionOut(**_fields(d)) for d in page.items],
                         next_cursor=page.next_cursor, total=page.total)


async def stats(call: Call) -> list[StatOut]:
    by = call.query("by") or "category"
    if by not in ("category", "feed", "source"):
        raise ApiError(400, f"by must be category, feed or source, not {by[:40]!r}")
    limit = call.int_query("limit", 100, 1, 1000)
    found = await call.run(call.store.detections.stats, by, query(call), limit=limit)
    return [StatOut(key=s.key, count=s.count) for s in found]


async def timeline(call: Call) -> list[StatOut]:
    wanted = query(call)
    end = wanted.end if wanted.end is not None else time.time()
    start = wanted.start if wanted.start is not None else end - DAY
    if start >= end:
        raise ApiError(400, "from must be before to")
    text = call.query("bucket")
    if text:
        try:
            bucket = float(text)
        except ValueError:
            raise ApiError(400, f"bucket must be seconds, not {text[:40]!r}") from None
        if not math.isfinite(bucket) or bucket < 1:
            raise ApiError(400, "bucket must be at least 1 second")
    else:  # about a hundred buckets, a whole number of minutes each
        bucket = max(60.0, math.ceil((end - start) / 100 / 60) * 60)
    ranged = DetectionQuery(tenant=wanted.tenant, start=start, end=end,
                            category=wanted.category, feed=wanted.feed, source=wanted.source,
                            indicator=wanted.indicator)
    found = await call.run(call.store.detections.timeline, ranged, bucket=bucket)
    return [StatOut(key=s.key, count=s.count) for s in found]


def _fields(detection: object) -> dict[str, object]:
    return {name: getattr(detection, name) for name in DetectionOut.__struct_fields__}


READ = needs(Permission.READ, tenant=True)

OPERATIONS = [
    Operation("GET", "/api/v1/detections", search, READ, "Search detections, newest first",
              "detections", response=DetectionPage,
              query=(*FILTERS, LIMIT, Param("cursor", {"type": "string"},
                                            "next_cursor of the previous page"))),
    Operation("GET", "/api/v1/detections/stats", stats, READ,
              "Detections counted per category, feed or source", "detections",
              response=list[StatOut],
              query=(Param("by", {"type": "string", "enum": ["category", "feed", "source"]},
                           "what to count by (default category)"), *FILTERS, LIMIT)),
    Operation("GET", "/api/v1/detections/timeline", timeline, READ,
              "Detections per time bucket", "detections", response=list[StatOut],
              query=(*FILTERS, Param("bucket", {"type": "number", "minimum": 1},
                                     "seconds per bucket (default: about 100 buckets)")),
              description="Over [from, to) (default: the last 24 hours); empty buckets are "
                          "left out; at most 10,000 buckets."),
]
