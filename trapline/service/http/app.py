"""The ASGI app of ``trapline serve``'s HTTP face.

    app = create_app(build_app_context(settings, store, ...))   # or AppContext(...)

Lookup paths go straight to the bare lookup handler (the hot path); every other
path goes to a Starlette app built from the route table (``operations``):
``/healthz``, ``/metrics``, ``/api/openapi.json`` and, with a store, the
management API (``/api/v1``, the vendor's suppliers and tags). Every route
declares its access rule there. With a store, the paths of the web interface's
pages go to ``trapline.web.WebPages`` (its own table of operations, with the same
access rules). All are timed and counted by route and status.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from trapline.security.roles import Permission
from trapline.service.http import (
    admin_api,
    detections_api,
    feeds_api,
    lists_api,
    lookup_api,
    session_api,
    vendor_api,
)
from trapline.service.http.auth import BasicAuth
from trapline.service.http.context import AppContext
from trapline.service.http.errors import EXCEPTION_HANDLERS
from trapline.service.http.health import Health, health_endpoint
from trapline.service.http.lookup import Entry, LookupHandler, LookupItem, lookup_tenant
from trapline.service.http.metrics import HttpMetrics
from trapline.service.http.openapi import document
from trapline.service.http.operations import PUBLIC, Call, Operation, guard, json_response, needs
from trapline.web import WebPages, embedding_cookie_policy

log = logging.getLogger("trapline.http")

LOOKUP_ROUTE = "/api/{version}/lookup"
TENANT_LOOKUP_ROUTE = "/api/1.3/{tenant}/lookup"
OTHER_ROUTE = "other"
OPENAPI_PATH = "/api/openapi.json"

# Served by the bare handler, outside Starlette; here for the documentation and the tests.
LOOKUP_OPERATIONS = [
    Operation("POST", "/api/{version:vendor}/lookup", None,
              needs(Permission.LOOKUP, session=False), "Look objects up (the vendor's API)",
              "lookup", body=list[LookupItem], response=list[Entry], errors=(405,),
              example=[{"object": "http://malicious.trapline-demo.test/x"},
                       {"object": "192.0.2.1"}],
              description="In the user's own tenant. Basic auth (or an API token)."),
    Operation("POST", "/api/1.3/{tenant}/lookup", None,
              needs(Permission.LOOKUP, tenant=True, session=False), "Look objects up in a tenant",
              "lookup", body=list[LookupItem], response=list[Entry], errors=(405,),
              example=[{"object": "192.0.2.1"}],
              description="An Analyst may only name their own tenant."),
]

MANAGEMENT_OPERATIONS = [*session_api.OPERATIONS, *lookup_api.OPERATIONS,
                         *detections_api.OPERATIONS, *feeds_api.OPERATIONS,
                         *lists_api.OPERATIONS, *admin_api.OPERATIONS, *vendor_api.OPERATIONS]


def service_operations(app: TraplineApp) -> list[Operation]:
    """Health, metrics and the OpenAPI document: public."""
    health = health_endpoint(app.context)

    async def healthz(call: Call) -> Response:
        return await health(call.request)

    async def metrics(call: Call) -> Response:
        return await app.metrics.endpoint(call.request)

    async def openapi(call: Call) -> Response:
        return json_response(app.openapi())

    return [
        Operation("GET", "/healthz", healthz, PUBLIC, "Is this worker serving", "service",
                  response=Health, unavailable_body=True),
        Operation("GET", "/metrics", metrics, PUBLIC, "Prometheus metrics of this worker",
                  "service", media_type="text/plain"),
        Operation("GET", OPENAPI_PATH, openapi, PUBLIC, "This OpenAPI document", "service",
                  response=dict[str, Any]),
    ]


class TraplineApp:
    """Dispatches lookups to the bare handler and the rest to Starlette; counts both."""

    def __init__(self, context: AppContext) -> None:
        self.context = context
        authenticator = context.authenticator
        self.auth = BasicAuth(
            context.authenticate_basic, context.auth_cache_seconds,
            login=authenticator.password if authenticator is not None else None,
            bearer=authenticator.token if authenticator is not None else None)
        self.metrics = HttpMetrics(context)
        self.lookup = LookupHandler(context, self.auth)
        served = service_operations(self)
        if context.store is not None:
            served += MANAGEMENT_OPERATIONS
        self.operations = [*served, *LOOKUP_OPERATIONS]
        self._openapi: dict[str, Any] | None = None
        self.pages: WebPages | None = None
        if context.store is not None:
            context.cookie_policy = embedding_cookie_policy(context)
            self.pages = WebPages(context, self.auth)
        self.starlette = Starlette(
            routes=[Route(op.path, guard(op, context, self.auth), methods=[op.method])
                    for op in served],
            exception_handlers=EXCEPTION_HANDLERS)  # type: ignore[arg-type]

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of every operation served (made once)."""
        if self._openapi is None:
            self._openapi = document(self.operations)
        return self._openapi

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

        target = self.starlette
        if self.pages is not None and self.pages.handles(scope):
            target = self.pages  # type: ignore[assignment]
        try:
            await target(scope, receive, send_status)
        except Exception:  # Starlette answered 500 already, then re-raised
            log.exception("HTTP %s %s failed", scope.get("method"), path)
            self.context.stats.count("http_internal_errors")
        route = scope.get("route")
        self.metrics.observe(getattr(route, "path", None) or OTHER_ROUTE, answered[0],
                             time.perf_counter() - started)


def create_app(context: AppContext) -> TraplineApp:
    """The ASGI app serving ``context``'s lookups, health and metrics."""
    return TraplineApp(context)
