"""Serving the HTTP face inside a worker process, on a port shared by every worker.

    server = await start_http(settings, context)    # on the worker's running loop
    ...
    await server.stop()

The socket is bound with SO_REUSEPORT, as the TCP event service's is, so N
worker processes share ``http.listen`` and the kernel spreads connections over
them. uvicorn (httptools) runs as a task on the worker's loop; signals stay
with the worker, which calls ``stop()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import uvicorn

from trapline.config import Settings, parse_address
from trapline.errors import ConfigError
from trapline.service.http.app import TraplineApp, create_app
from trapline.service.http.context import AppContext
from trapline.service.http.tls import server_context, tls_files

log = logging.getLogger("trapline.http")

BACKLOG = 2048
MAX_HEADER_BYTES = 64 * 1024  # the request line and headers (h11's incomplete event limit)
GRACE_SECONDS = 5


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the worker owns SIGTERM, SIGINT and SIGHUP."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    """A running HTTP face: its app, its port, and ``stop()``."""

    def __init__(self, server: uvicorn.Server, task: asyncio.Task[None], sock: socket.socket,
                 app: TraplineApp, scheme: str) -> None:
        self.server = server
        self.task = task
        self.socket = sock
        self.app = app
        self.scheme = scheme
        self.port: int = sock.getsockname()[1]

    async def stop(self, timeout: float = GRACE_SECONDS) -> None:
        """Stop accepting, let requests in flight finish (up to ``timeout``), close."""
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout + 1)
        except TimeoutError:
            self.server.force_exit = True
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


async def start_http(settings: Settings, context: AppContext) -> HttpServer:
    """Bind ``settings.http.listen`` (SO_REUSEPORT) and serve ``context`` on it."""
    http = settings.http
    host, port = parse_address(http.listen, "http.listen")
    files = tls_files(settings)
    tls = server_context(*files) if files else None
    context.max_body_bytes = http.max_body_mb << 20
    context.auth_cache_seconds = http.auth_cache_seconds
    app = create_app(context)
    sock = bind_socket(host, port)
    config = uvicorn.Config(
        app, http="httptools", ws="none", lifespan="off", interface="asgi3",
        log_config=None, access_log=False, proxy_headers=False, server_header=False,
        limit_concurrency=http.max_connections, backlog=BACKLOG,
        timeout_keep_alive=http.keep_alive_timeout, timeout_graceful_shutdown=GRACE_SECONDS,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        ssl_context_factory=_fixed(tls) if tls is not None else None)
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="http")
    while not server.started:
        if task.done():
            sock.close()
            task.result()  # raises what stopped it
            raise ConfigError(f"http.listen {http.listen}: the HTTP server did not start")
        await asyncio.sleep(0.01)
    scheme = "https" if tls is not None else "http"
    log.info("HTTP API on %s://%s", scheme, http.listen)
    return HttpServer(server, task, sock, app, scheme)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening, non-blocking socket on ``host:port`` that other processes may share."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigError(f"http.listen {host}:{port}: {exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"http.listen {host}:{port}: {exc.strerror or exc}") from exc
    sock.setblocking(False)
    return sock


def _fixed(context: ssl.SSLContext) -> Any:
    """uvicorn's ``ssl_context_factory``: always our context."""

    def factory(config: uvicorn.Config, default: Any) -> ssl.SSLContext:
        return context

    return factory
