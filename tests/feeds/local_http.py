"""A real HTTP server on 127.0.0.1 for feed-source tests: routes are plain functions.

    with LocalServer() as server:
        server.route("/feed.txt", lambda req: reply(req, 200, b"evil.example\\n"))
        fetch(feed_for(server.url("/feed.txt")), ...)

Every request is logged in ``server.requests`` (method, path, headers) so a
test can assert what was, or was not, sent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

Handler = Callable[["RequestHandler"], None]


@dataclass
class Seen:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self.server.owner.requests.append(Seen("GET", self.path, dict(self.headers.items())))
        key = self.path if self.path in self.server.owner.routes else urlsplit(self.path).path
        handler = self.server.owner.routes.get(key, self.server.owner.default)
        try:
            handler(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: LocalServer

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hangs up mid-body is what several tests do on purpose


def reply(req: RequestHandler, status: int = 200, body: bytes = b"",
          headers: dict[str, str] | None = None) -> None:
    """Send a whole response with a Content-Length."""
    req.send_response(status)
    headers = {"Content-Type": "text/plain", **(headers or {})}
    for name, value in headers.items():
        req.send_header(name, value)
    if "Content-Length" not in headers:
        req.send_header("Content-Length", str(len(body)))
    req.end_headers()
    req.wfile.write(body)


def redirect(location: str, status: int = 302) -> Handler:
    """A route that redirects to ``location``."""
    return lambda req: reply(req, status, b"", {"Location": location})


def not_found(req: RequestHandler) -> None:
    reply(req, 404, b"not found")


class LocalServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 (an OS-chosen port) for one test."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.default: Handler = not_found
        self.requests: list[Seen] = []
        self.stop = threading.Event()  # slow handlers wait on it, so teardown is quick
        self._server = _Server(("127.0.0.1", 0), RequestHandler)
        self._server.owner = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    def route(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()
