"""Kind ``cybertrace``: the event protocol over TCP, as KUMA speaks it.

Each connection opens with ``X-KF-ReplyBackX-KF-SendFinishedEvent`` (answers
come back on the socket, and every request ends with a ``LookupFinished``
line even when nothing matched). A request is one line of pipe-separated
``type=value`` pairs (``ip=192.0.2.1|url=http://...|hash=...``); the service
answers requests in order, so each connection keeps a FIFO of pending
requests and pairs the detection lines up to each finished line with the
oldest one. At most ``connections`` connections are open; a request goes to
the least busy one, and a new one is opened while every open one is busy.
A lost connection fails its pending requests (``Unavailable``) and is
replaced at the next request; after a refused connect, requests fail fast
for a back-off (1 s, doubling to 8 s) instead of hammering a dead service.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from trapline.collector.enrich.errors import EnrichError, LookupTimeout, Unavailable

OPENING = b"X-KF-ReplyBackX-KF-SendFinishedEvent"
FINISHED = "LookupFinished"
log = logging.getLogger("trapline.collector.enrich")


Done = Callable[[list[str] | None, EnrichError | None], None]


class _Request:
    __slots__ = ("deadline", "done", "finished", "lines")

    def __init__(self, done: Done, deadline: float) -> None:
        self.done = done
        self.finished = False
        self.lines: list[str] = []
        self.deadline = deadline


class _Connection(asyncio.Protocol):
    """One connection: a FIFO of pending requests, one write per loop turn, and one
    timeout sweeper (a single timer at the oldest unanswered request's deadline)
    instead of a timer per request."""

    def __init__(self, client: CyberTraceClient) -> None:
        self.client = client
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.pending: deque[_Request] = deque()
        self.buffer = b""
        self.alive = False
        self.silent_timeouts = 0  # timeouts since the last byte received
        self.outbox: list[bytes] = []
        self.sweeper: asyncio.TimerHandle | None = None
        self.last_deadline = 0.0
        self.disordered = False  # a request with an earlier deadline behind a later one

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment] - uvloop's is no subclass
        self.alive = True
        transport.write(OPENING)

    def send(self, line: bytes, done: Done, deadline: float) -> None:
        """Queue one request; ``done(lines, None)`` or ``done(None, error)`` exactly once."""
        self.pending.append(_Request(done, deadline))
        if deadline < self.last_deadline:
            self.disordered = True
        self.last_deadline = deadline
        if self.sweeper is None:
            self.sweeper = self.loop.call_at(deadline, self._sweep)
        if not self.outbox:  # one write per loop turn: a syscall per request costs 50 us
            self.loop.call_soon(self._flush)
        self.outbox.append(line)

    def _flush(self) -> None:
        data = b"".join(self.outbox)
        self.outbox.clear()
        if self.transport is not None and self.alive:
            self.transport.write(data)

    def _sweep(self) -> None:
        """Fail the requests past their deadline (they stay in the FIFO: their answer,
        if it comes, is read and dropped), then wait for the next deadline."""
        self.sweeper = None
        now = self.loop.time()
        expired: list[_Request] = []
        following = None
        for request in self.pending:
            if request.finished:
                continue
            if request.deadline <= now:
                request.finished = True
                expired.append(request)
            elif not self.disordered:
                following = request.deadline
                break
            elif following is None or request.deadline < following:
                following = request.deadline
        if not self.pending:
            self.disordered = False
        if following is not None:
            self.sweeper = self.loop.call_at(following, self._sweep)
        if expired:
            self.silent_timeouts += len(expired)
            error = LookupTimeout(f"no answer within {self.client.timeout:g} s")
            for request in expired:
                request.done(None, error)

    def data_received(self, data: bytes) -> None:
        self.silent_timeouts = 0
        data = self.buffer + data if self.buffer else data
        lines = data.split(b"\n")
        self.buffer = lines.pop()
        pending = self.pending
        for raw in lines:
            if not raw or raw == b"\r":
                continue
            if not pending:
                self.client.stray_lines += 1
                continue
            request = pending[0]
            if raw.startswith(b"LookupFinished"):
                pending.popleft()
                if not request.finished:
                    request.finished = True
                    request.done(request.lines, None)
            else:
                request.lines.append(raw.decode("utf-8", "replace").rstrip("\r"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        if self.sweeper is not None:
            self.sweeper.cancel()
            self.sweeper = None
        self.client._lost(self)
        reason = f"connection lost: {exc}" if exc else "connection closed by the service"
        error = Unavailable(reason)
        while self.pending:
            request = self.pending.popleft()
            if not request.finished:
                request.finished = True
                request.done(None, error)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class CyberTraceClient:
    def __init__(self, host: str, port: int, connections: int, timeout: float) -> None:
        self.host, self.port = host, port
        self.max_connections = connections
        self.timeout = timeout
        self.connections: list[_Connection] = []
        self.opening: set[asyncio.Task[_Connection]] = set()
        self.waiting: set[asyncio.Task[None]] = set()  # requests waiting for a connection
        self.down_until = 0.0
        self.backoff = 0.0
        self.stray_lines = 0
        self.connects = 0
        self.connect_failures = 0

    def _lost(self, connection: _Connection) -> None:
        if connection in self.connections:
            self.connections.remove(connection)

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self), self.host, self.port)
        except (OSError, TimeoutError) as exc:
            self.connect_failures += 1
            self.backoff = min(max(self.backoff * 2, 1.0), 8.0)
            self.down_until = time.monotonic() + self.backoff
            log.warning("cannot connect to %s:%s (%s); retrying in %.0f s", self.host,
                        self.port, exc or type(exc).__name__, self.backoff)
            raise Unavailable(f"cannot connect to {self.host}:{self.port}: "
                              f"{exc or type(exc).__name__}") from None
        self.connects += 1
        self.backoff = 0.0
        self.connections.append(connection)
        return connection

    def _start_open(self) -> asyncio.Task[_Connection]:
        task = asyncio.get_running_loop().create_task(self._open())
        self.opening.add(task)

        def done(finished: asyncio.Task[_Connection]) -> None:
            self.opening.discard(finished)
            if not finished.cancelled():
                finished.exception()  # retrieved: a failure is logged by _open
        task.add_done_callback(done)
        return task

    def ready(self) -> _Connection | None:
        """The fast path: every connection is open and healthy; the least busy one (a
        request can be written to it at once)."""
        connections = self.connections
        if len(connections) < self.max_connections or self.opening:
            return None
        best = connections[0]
        for connection in connections:
            if connection.silent_timeouts >= 3 or not connection.alive:
                return None
            if len(connection.pending) < len(best.pending):
                best = connection
        return best

    async def _pick(self) -> _Connection:
        while True:
            for connection in [c for c in self.connections if c.silent_timeouts >= 3]:
                log.warning("no answer on a connection to %s:%s for 3 timeouts: reconnecting",
                            self.host, self.port)
                connection.abort()  # its requests fail; connection_lost removes it
                self._lost(connection)
            live = [c for c in self.connections if c.alive]
            best = min(live, key=lambda c: len(c.pending)) if live else None
            room = len(self.connections) + len(self.opening) < self.max_connections
            if best is not None and (not best.pending or not room):
                return best
            if room:
                if time.monotonic() < self.down_until:
                    if best is not None:
                        return best
                    raise Unavailable(f"service {self.host}:{self.port} unavailable "
                                      f"(retrying in {self.down_until - time.monotonic():.1f} s)")
                task = self._start_open()
                if best is not None:
                    return best  # the new connection serves later requests
                return await asyncio.shield(task)
            await asyncio.wait(set(self.opening), return_when=asyncio.FIRST_COMPLETED)

    def submit(self, line: bytes, done: Done, connection: _Connection | None = None) -> None:
        """Send one request line (ending in LF), on ``connection`` when the caller already
        got it from ``ready()``; ``done(lines, None)`` with the detection lines of its
        answer, or ``done(None, error)``, exactly once, within ``timeout`` seconds from
        now (connecting included)."""
        deadline = asyncio.get_running_loop().time() + self.timeout
        if connection is None:
            connection = self.ready()
        if connection is not None:
            connection.send(line, done, deadline)
            return
        task = asyncio.get_running_loop().create_task(self._submit_later(line, done, deadline))
        self.waiting.add(task)
        task.add_done_callback(self.waiting.discard)

    async def _submit_later(self, line: bytes, done: Done, deadline: float) -> None:
        try:
            async with asyncio.timeout_at(deadline):
                connection = await self._pick()
        except TimeoutError:
            done(None, LookupTimeout(f"no connection within {self.timeout:g} s"))
        except EnrichError as exc:
            done(None, exc)
        else:
            connection.send(line, done, deadline)

    async def lookup(self, line: bytes) -> list[str]:
        """``submit`` for one caller that awaits the answer (raises ``EnrichError``)."""
        future: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()

        def done(lines: list[str] | None, error: EnrichError | None) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(lines or [])
        self.submit(line, done)
        return await future

    async def close(self) -> None:
        for task in [*self.opening, *self.waiting]:
            task.cancel()
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.close()
        self.connections.clear()

    @property
    def open_connections(self) -> int:
        return len(self.connections)


def request_line(sent: list[tuple[str, str, str]]) -> bytes:
    """KUMA's request: ``type=value`` pairs joined by ``|``, one line.

    A value loses CR, LF and ``|`` (``|`` becomes ``%7C``, which a URL means anyway),
    so it can neither end the request nor split a pair."""
    line = "|".join([f"{kind}={value}" for _, kind, value in sent])
    if line.count("|") != len(sent) - 1 or "\n" in line or "\r" in line:
        line = "|".join([f"{kind}=" + value.replace("\r", "").replace("\n", "")
                         .replace("|", "%7C") for _, kind, value in sent])
    return (line + "\n").encode("utf-8", "replace")
