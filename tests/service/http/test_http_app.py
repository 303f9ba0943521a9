"""Health, metrics, and the one error shape on every other route."""

from __future__ import annotations

import asyncio

import httpx
from http_unit import KUMA, Call
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request
from starlette.routing import Route

from trapline.errors import SnapshotError
from trapline.service.http import ApiError, AppContext, create_app


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_healthz(call: Call) -> None:
    response = call("GET", "/healthz")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["snapshot"], body["worker"]) == ("ok", 3, 1)
    assert 0 <= body["uptime"] < 60


def test_healthz_without_a_snapshot_is_503(context: AppContext, call: Call) -> None:
    def missing() -> int:
        raise SnapshotError("no snapshot published in /data/snapshots")

    context.snapshot_version = missing
    response = call("GET", "/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert "no snapshot" in response.json()["reason"]


def test_metrics_expose_stats_and_request_counters(context: AppContext) -> None:
    app = create_app(context)

    async def run() -> tuple[str, str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            before = (await client.get("/metrics")).text
            context.stats.count("events", 5)  # what the TCP face of the worker counts
            for _ in range(3):
                await client.post("/api/1.1/lookup", headers=KUMA,
                                  json=[{"object": "192.0.2.1"}, {"object": "clean.example"}])
            await client.post("/api/1.1/lookup", json=[{"object": "192.0.2.1"}])
            await client.get("/nowhere")
            response = await client.get("/metrics")
            assert response.headers["content-type"].startswith("text/plain; version=")
            return before, response.text

    before, after = asyncio.run(run())
    old, new = samples(before), samples(after)
    worker = ("worker", "1")
    lookup_ok = ("trapline_http_requests_total",
                 (("route", "/api/{version}/lookup"), ("status", "200"), worker))
    assert lookup_ok not in old and new[lookup_ok] == 3
    assert new[("trapline_http_requests_total",
                (("route", "/api/{version}/lookup"), ("status", "401"), worker))] == 1
    assert new[("trapline_http_requests_total",
                (("route", "other"), ("status", "404"), worker))] == 1
    assert new[("trapline_http_requests_total",
                (("route", "/metrics"), ("status", "200"), worker))] == 1
    assert new[("trapline_http_request_duration_seconds_count",
                (("route", "/api/{version}/lookup"), worker))] == 4
    assert new[("trapline_http_observables_total", (worker,))] == 6
    assert new[("trapline_http_detected_total", (worker,))] == 3
    assert new[("trapline_events_total", (worker,))] == 5
    assert new[("trapline_snapshot_version", (worker,))] == 3
    assert ("process_resident_memory_bytes", ()) in new


def test_two_apps_have_their_own_registries(context: AppContext, call: Call) -> None:
    call("GET", "/healthz")
    other = create_app(context)
    assert other.metrics.registry is not create_app(context).metrics.registry


def test_unknown_routes_and_methods_answer_in_the_error_shape(call: Call) -> None:
    for method, path, status, reason in [
        ("GET", "/nowhere", 404, "request not supported: GET /nowhere"),
        ("GET", "/api/1.1/suppliers", 404, "request not supported: GET /api/1.1/suppliers"),
        ("POST", "/healthz", 405, "method not allowed: POST /healthz"),
        ("DELETE", "/metrics", 405, "method not allowed: DELETE /metrics"),
    ]:
        response = call(method, path)
        assert response.status_code == status
        assert response.headers["content-type"] == "application/json"
        assert response.json() == [{"status": "error", "reason": reason}]


def test_routes_raise_api_errors_and_bugs_become_500(context: AppContext) -> None:
    app = create_app(context)

    async def conflict(request: Request) -> None:
        raise ApiError(409, "supplier InternalTI is reserved", {"x-hint": "pick another name"})

    async def broken(request: Request) -> None:
        raise ZeroDivisionError

    app.starlette.router.routes += [Route("/api/1.1/suppliers", conflict, methods=["POST"]),
                                    Route("/boom", broken)]

    async def run() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post("/api/1.1/suppliers"), await client.get("/boom")

    refused, failed = asyncio.run(run())
    assert refused.status_code == 409 and refused.headers["x-hint"] == "pick another name"
    assert refused.json() == [{"status": "error", "reason": "supplier InternalTI is reserved"}]
    assert failed.status_code == 500
    assert failed.json() == [{"status": "error", "reason": "internal error"}]
    assert context.stats.counters["http_internal_errors"] == 1
