"""trapline's own lookup: every verdict explained, with the versions it was made against.

    POST /api/v1/lookup?tenant=General   {"values": ["198.51.100.7", "http://evil.example/x"]}
    -> {"tenant", "snapshot": 7, "lists_version": 12, "results": [{"value", "result",
        "matches": [{"how", "via", "pattern", "feed", "category", "context", "explain"}],
        "allowed_by": [...], "suppressed": [...]}, ...]}
    GET  /api/v1/lookups/recent           the user's last lookups

All values of a request are looked up through one view of the matcher: one
feed snapshot and one version of the tenant's lists (InternalTI first, always
alerting; FalsePositive suppressing feed matches). Each request is kept in the
user's lookup history (``store.lookups``): the first 100 values and a summary.
"""

from __future__ import annotations

import logging
from typing import Any

from trapline.errors import TraplineError
from trapline.index.verdict import Match, Verdict
from trapline.security.roles import Permission
from trapline.service.http.errors import ApiError
from trapline.service.http.operations import Call, Operation, Param, needs
from trapline.service.http.schemas import (
    LookupHistoryEntry,
    LookupRequest,
    LookupResponse,
    LookupResult,
    MatchOut,
)
from trapline.store import StoreError

log = logging.getLogger("trapline.http")
SAMPLE = 100  # detected values listed in a history entry's summary


def match_out(match: Match) -> MatchOut:
    return MatchOut(how=match.how, via=match.via, pattern=match.pattern, feed=match.feed,
                    category=match.category, context=dict(match.context),
                    explain=match.explain(), first_seen=match.first_seen,
                    last_seen=match.last_seen, valid_until=match.valid_until,
                    confidence=match.confidence)


def result_out(verdict: Verdict) -> LookupResult:
    indicator = verdict.indicator
    return LookupResult(
        value=verdict.observable, result="detected" if verdict.matches else "not detected",
        kind=indicator.kind.value if indicator is not None else None,
        canonical=indicator.value if indicator is not None else None,
        error=verdict.error, snapshot=verdict.snapshot,
        matches=[match_out(m) for m in verdict.matches],
        allowed_by=[match_out(m) for m in verdict.allowed_by],
        suppressed=[match_out(m) for m in verdict.suppressed])


async def lookup(call: Call) -> LookupResponse:
    body = await call.body(LookupRequest)
    context, tenant = call.context, call.tenant
    await call.run(call.store.tenants.get, tenant)  # NotFound (404) for a tenant that is not
    try:
        if context.matcher_view is not None:
            view = context.matcher_view(tenant)
            verdicts = view.lookup_many(body.values)
            snapshot, lists_version = view.snapshot.version, view.overlay.version
        else:
            verdicts = context.lookup_many(body.values, tenant)
            snapshot = verdicts[0].snapshot if verdicts else 0
            lists_version = await call.run(context.lists_version, tenant) \
                if context.lists_version is not None else 0
    except TraplineError as exc:
        raise ApiError(503, f"lookups unavailable: {exc}") from None
    results = [result_out(v) for v in verdicts]
    detected = [r.value for r in results if r.matches]
    summary: dict[str, Any] = {
        "detected": len(detected), "not_detected": len(results) - len(detected),
        "invalid": sum(1 for r in results if r.error), "snapshot": snapshot,
        "lists_version": lists_version, "detected_values": detected[:SAMPLE]}
    try:
        await call.run(call.store.lookups.add, call.user.name, body.values, summary,
                       tenant=tenant)
    except StoreError as exc:  # the history is a log: losing one entry must not fail it
        log.error("lookup history not recorded: %s", exc)
        context.stats.count("http_lookup_history_errors")
    return LookupResponse(tenant=tenant, snapshot=snapshot, lists_version=lists_version,
                          results=results)


async def recent(call: Call) -> list[LookupHistoryEntry]:
    limit = call.int_query("limit", 20, 1, 1000)
    records = await call.run(call.store.lookups.recent, call.user.name, limit=limit)
    return [LookupHistoryEntry(id=r.id, user=r.user, tenant=r.tenant, time=r.time,
                               values=r.values, total=r.total, summary=r.summary)
            for r in records]


LIMIT = Param("limit", {"type": "integer", "minimum": 1, "maximum": 1000},
              "how many, newest first (default 20)")

OPERATIONS = [
    Operation("POST", "/api/v1/lookup", lookup, needs(Permission.LOOKUP, tenant=True),
              "Look values up, with explanations", "lookup", body=LookupRequest,
              response=LookupResponse,
              example={"values": ["198.51.100.7", "http://malicious.trapline-demo.test/x"]},
              description="One verdict per value, in order, all against one snapshot and "
                          "one lists version; kept in the user's lookup history."),
    Operation("GET", "/api/v1/lookups/recent", recent, needs(Permission.LOOKUP),
              "The user's recent lookups", "lookup", response=list[LookupHistoryEntry],
              query=(LIMIT,)),
]
