"""The ASGI app of ``trapline serve``'s HTTP face.

    app = create_app(AppContext(lookup_many=..., authenticate_basic=...))

Lookup paths go straight to the bare lookup handler (the hot path); every other
path goes to a Starlette app (``/healthz``, ``/metrics``, later the management
API and the web pages). Both are timed and counted by route and status here.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route

from trapline.service.http.auth import BasicAuth
from trapline.service.http.context import AppContext
from trapline.service.http.errors import EXCEPTION_HANDLERS
from trapline.service.http.health import health_endpoint
from trapline.service.http.lookup import LookupHandler, lookup_tenant
from trapline.service.http.metrics import HttpMetrics

log = logging.getLogger("trapline.http")

LOOKUP_ROUTE = "/api/{version}/lookup"
TENANT_LOOKUP_ROUTE = "/api/1.3/{tenant}/lookup"
OTHER_ROUTE = "other"


class TraplineApp:
    """Dispatches lookups to the bare handler and the rest to Starlette; counts both."""

    def __init__(self, context: AppContext) -> None:
        self.context = context
        self.auth = BasicAuth(context.authenticate_basic, context.auth_cache_seconds)
        self.metrics = HttpMetrics(context)
        self.lookup = LookupHandler(context, self.auth)
        self.routes = {"/healthz": "/healthz", "/metrics": "/metrics"}
        self.starlette = Starlette(
            routes=[Route("/healthz", health_endpoint(context), methods=["GET"]),
                    Route("/metrics", self.metrics.endpoint, methods=["GET"])],
            exception_handlers=EXCEPTION_HANDLERS)  # type: ignore[arg-type]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.starlette(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope["path"]
        tenant = lookup_tenant(path)
        if tenant is not None:
            status = await self.lookup(scope, receive, send, tenant)
            route = TENANT_LOOKUP_ROUTE if tenant else LOOKUP_ROUTE
            self.metrics.observe(route, status, time.perf_counter() - started)
            return
        answered = [500]

        async def send_status(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answered[0] = message["status"]
            await send(message)

        try:
            await self.starlette(scope, receive, send_status)
        except Exception:  # Starlette answered 500 already, then re-raised
            log.exception("HTTP %s %s failed", scope.get("method"), path)
            self.context.stats.count("http_internal_errors")
        self.metrics.observe(self.routes.get(path, OTHER_ROUTE), answered[0],
                             time.perf_counter() - started)


def create_app(context: AppContext) -> TraplineApp:
    """The ASGI app serving ``context``'s lookups, health and metrics."""
    return TraplineApp(context)
