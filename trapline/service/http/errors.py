"""The one error shape of the HTTP face, the vendor's: ``[{"status": "error", "reason": ...}]``.

Every error answer, on every route (lookups, 404, 405, 500), is that JSON array
with a fitting HTTP status. Routes raise ``ApiError``; the bare lookup handler
writes ``error_body`` itself.
"""

from __future__ import annotations

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

JSON = "application/json"


class ErrorEntry(msgspec.Struct):
    status: str
    reason: str


_ENCODER = msgspec.json.Encoder()


def error_body(reason: str) -> bytes:
    """``[{"status": "error", "reason": reason}]`` as bytes."""
    return _ENCODER.encode([ErrorEntry("error", reason)])


class ApiError(Exception):
    """An error answer: HTTP ``status``, the ``reason`` shown, extra ``headers``."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}


def error_response(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    return Response(error_body(reason), status, headers=headers, media_type=JSON)


_REASONS = {404: "request not supported", 405: "method not allowed"}


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.reason, exc.headers)


async def http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (no route, wrong method) in the vendor's shape."""
    assert isinstance(exc, HTTPException)
    reason = _REASONS.get(exc.status_code, exc.detail)
    if exc.status_code in _REASONS:
        reason = f"{reason}: {request.method} {request.url.path}"
    return error_response(exc.status_code, reason, dict(exc.headers or {}))


async def internal_error(request: Request, exc: Exception) -> Response:
    """A bug: the answer says so; Starlette re-raises and the app logs it once."""
    return error_response(500, "internal error")


EXCEPTION_HANDLERS = {ApiError: api_error, HTTPException: http_exception,
                      Exception: internal_error}
