"""Driving an ASGI app message by message: chunked bodies, disconnects, what was read."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Exchange:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    receives: int = 0  # how many times the app asked for more of the body


def exchange(app: Any, method: str, path: str, chunks: list[bytes], *,
             headers: dict[str, str] | None = None, disconnect_after: int | None = None
             ) -> Exchange:
    """Send the body as ``chunks`` (``more_body`` on all but the last); collect the answer."""
    result = Exchange()
    pending = list(chunks) or [b""]
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": raw,
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8443)}

    async def receive() -> dict[str, Any]:
        result.receives += 1
        if disconnect_after is not None and result.receives > disconnect_after:
            return {"type": "http.disconnect"}
        if not pending:
            raise AssertionError("the app read past the end of the body")
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            result.status = message["status"]
            result.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        else:
            result.body += message.get("body", b"")

    asyncio.run(app(scope, receive, send))
    return result
