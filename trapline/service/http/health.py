"""``GET /healthz``: is this worker serving, on which snapshot, since when."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from trapline.errors import TraplineError
from trapline.service.http.context import AppContext


class Health(msgspec.Struct, omit_defaults=True):
    status: str
    uptime: float
    worker: int
    snapshot: int | None = None
    reason: str = ""


def health_endpoint(context: AppContext) -> Callable[[Request], Awaitable[Response]]:
    """``{"status": "ok", "snapshot": 7, "uptime": 12.5, "worker": 1}``; 503 without a snapshot."""

    async def healthz(request: Request) -> Response:
        uptime = round(time.monotonic() - context.started, 3)
        health = Health("ok", uptime, context.worker)
        status = 200
        if context.snapshot_version is not None:
            try:
                health.snapshot = context.snapshot_version()
            except TraplineError as exc:
                health.status, health.reason, status = "unavailable", str(exc), 503
        return Response(msgspec.json.encode(health), status, media_type="application/json")

    return healthz
