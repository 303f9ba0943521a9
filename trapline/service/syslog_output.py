"""The output: detections and service alerts to a syslog receiver over TCP or UDP.

    sink = SyslogSink("127.0.0.1", 9998, framing="rfc5424", spool_dir=Path("spool"))
    await sink.start()
    sink.send("Category=KL_Malicious_URL|MatchedIndicator=evil.example")  # never blocks
    sink.alert(Alert("KL_ALERT_ServiceStarted"))
    await sink.stop(5.0)                                   # flush, at most 5 s

``send`` frames the line and queues it (in memory, bounded; or written through
to the disk spool) and returns; one asyncio task delivers. TCP: one line per
message, LF-terminated, a batch per write; a batch counts as delivered once
the receiver's TCP stack has acknowledged its bytes (Linux SIOCOUTQ), which is
the most a plain syslog receiver confirms. If the connection fails, what was
not acknowledged is sent again. UDP: one datagram per line, cut at 65,507
bytes. A failed batch is retried ``retries`` times, ``retry_interval`` apart;
then, without a spool, it is dropped (counted); with a spool it stays on disk
and is retried every ``retry_interval`` until the receiver is back.
docs/output.md has the guarantees and every counter.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import socket
import struct
import termios
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, cast

from trapline.alerts import Alert
from trapline.errors import ConfigError
from trapline.service.framing import Framer, header_field
from trapline.service.spool import Position, Spool
from trapline.service.templates import EventIds, Renderer

log = logging.getLogger("trapline.output")

MAX_UDP = 65507           # the largest UDP payload over IPv4
DETECTION_SEVERITY = 4    # warning
ALERT_SEVERITY = 5        # notice
_LOG_EVERY = 10.0         # seconds between repeated warnings of one kind


class _Batch:
    __slots__ = ("messages", "position")

    def __init__(self, messages: list[bytes], position: Position | None) -> None:
        self.messages = messages
        self.position = position  # the spool position after it (None: in memory)


class _MemoryQueue:
    """The bounded in-memory queue of framed messages (no spool)."""

    def __init__(self) -> None:
        self.items: deque[bytes] = deque()

    def take(self, max_lines: int, max_bytes: int) -> _Batch | None:
        items = self.items
        if not items:
            return None
        taken: list[bytes] = []
        size = 0
        while items and len(taken) < max_lines and size < max_bytes:
            message = items.popleft()
            taken.append(message)
            size += len(message) + 1
        return _Batch(taken, None)

    def rewind(self, batches: list[_Batch]) -> None:
        for batch in reversed(batches):
            self.items.extendleft(reversed(batch.messages))

    def pending(self) -> bool:
        return bool(self.items)


class _SpoolQueue:
    """Messages read back from the spool."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool

    def take(self, max_lines: int, max_bytes: int) -> _Batch | None:
        found = self.spool.read(max_lines, max_bytes)
        return None if found is None else _Batch(*found)

    def rewind(self, batches: list[_Batch]) -> None:
        self.spool.rewind()

    def pending(self) -> bool:
        return self.spool.has_unread()


class _TcpConnection(asyncio.Protocol):
    """A write-only TCP client; ``drain`` waits until the kernel has every byte."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.written = 0
        self.closed = False
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._fd = -1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        transport.set_write_buffer_limits(high=0)  # paused while anything is unwritten
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self._fd = sock.fileno()
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake(exc or ConnectionResetError("the receiver closed the connection"))

    def eof_received(self) -> bool:
        return False  # the receiver closed its side: close ours

    def data_received(self, data: bytes) -> None:
        pass  # syslog receivers do not answer

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake(None)

    def _wake(self, exc: Exception | None) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(exc)

    def write(self, data: bytes) -> None:
        if self.closed or self.transport is None or self.transport.is_closing():
            raise ConnectionResetError("the connection to the receiver is closed")
        self.transport.write(data)
        self.written += len(data)

    async def drain(self) -> None:
        if self.closed:
            raise ConnectionResetError("the connection to the receiver is closed")
        if self._paused:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter

    def unacknowledged(self) -> int:
        """Bytes the receiver's TCP stack has not acknowledged yet (0 where unknown)."""
        if self._fd < 0 or self.closed:
            return 0
        try:
            raw = fcntl.ioctl(self._fd, termios.TIOCOUTQ, b"\0\0\0\0")
        except OSError:
            return 0
        return struct.unpack("i", raw)[0]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.closed = True


class SyslogSink:
    """One syslog receiver: ``send`` and ``alert`` from anywhere, delivery on the event loop."""

    def __init__(self, host: str, port: int, *, protocol: str = "tcp", framing: str = "raw",
                 retries: int = 3, retry_interval: float = 10.0, queue_size: int = 100_000,
                 spool_dir: Path | None = None, spool_max_mb: int = 1024,
                 renderer: Renderer | None = None, app_name: str = "trapline",
                 hostname: str | None = None, facility: int = 1,
                 severity: int = DETECTION_SEVERITY, alert_severity: int = ALERT_SEVERITY,
                 worker: str | int | None = None, batch_lines: int = 1000,
                 batch_bytes: int = 256 << 10, connect_timeout: float = 10.0,
                 write_timeout: float = 30.0, spool_segment_bytes: int = 16 << 20) -> None:
        checks = [
            (protocol in ("tcp", "udp"), "output.protocol is tcp or udp"),
            (framing in ("raw", "rfc5424", "rfc3164"), "output.framing is raw, rfc5424 or rfc3164"),
            (0 <= retries <= 10, "output.retries: 0 to 10"),
            (0 <= retry_interval <= 60, "output.retry_interval: 0 to 60 seconds"),
            (queue_size >= 1, "output.queue_size must be 1 or more"),
            (spool_max_mb >= 1, "output.spool_max_mb must be 1 or more"),
            (0 <= facility <= 23, "output.facility: 0 to 23"),
            (0 <= severity <= 7 and 0 <= alert_severity <= 7, "output severities: 0 to 7"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        self.host = host
        self.port = port
        self.protocol = protocol
        self.retries = retries
        self.retry_interval = retry_interval
        self.queue_size = queue_size
        self.severity = severity
        self.alert_severity = alert_severity
        self.batch_lines = batch_lines
        self.batch_bytes = batch_bytes
        self.connect_timeout = connect_timeout
        self.write_timeout = write_timeout
        self.renderer = renderer or Renderer()
        self.ids = EventIds(worker)
        self._framer = Framer(framing, facility=facility, app_name=app_name, hostname=hostname)
        self._counters = dict.fromkeys(
            ("sent", "dropped", "retried", "spooled", "errors", "truncated"), 0)
        self._memory = _MemoryQueue()
        self._udp_limit = protocol == "udp"
        self._needs_ids = framing == "rfc5424" or spool_dir is not None
        self.spool = (Spool(spool_dir, max_bytes=spool_max_mb << 20,
                            segment_bytes=spool_segment_bytes) if spool_dir else None)
        self._source: _MemoryQueue | _SpoolQueue = (
            _SpoolQueue(self.spool) if self.spool else self._memory)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._conn: _TcpConnection | None = None
        self._udp: socket.socket | None = None
        self._inflight: _Batch | None = None
        self._failures = 0
        self._last_log: dict[str, float] = {}

    # --- the callers' side (any thread, never blocks) ----------------------------------------

    def send(self, line: str, event_id: str | None = None, *, severity: int | None = None) -> None:
        """Frame and queue one line; when full it is dropped (or refused by the spool), counted.

        ``event_id`` (default: a new one from ``ids``) is the RFC 5424 MSGID and the
        spool record's id.
        """
        if event_id is not None:
            eid = header_field(event_id, 32)
        elif self._needs_ids:
            eid = self.ids()
        else:
            eid = ""
        data = self._encode(line, eid, self.severity if severity is None else severity)
        spool = self.spool
        if spool is not None:
            self._spool_records([(eid, data)])
        elif len(self._memory.items) < self.queue_size:
            self._memory.items.append(data)
        else:
            self._counters["dropped"] += 1
            self._warn("queue", "output queue full (%d lines): lines dropped", self.queue_size)
        self._wake()

    def send_many(self, lines: list[str], event_ids: list[str] | None = None, *,
                  severity: int | None = None) -> None:
        """``send`` for several lines at once (one spool write)."""
        sev = self.severity if severity is None else severity
        if event_ids is not None:
            eids = [header_field(e, 32) for e in event_ids]
        else:
            eids = [self.ids() if self._needs_ids else "" for _ in lines]
        records = [(eid, self._encode(line, eid, sev))
                   for eid, line in zip(eids, lines, strict=True)]
        if self.spool is not None:
            self._spool_records(records)
        else:
            room = max(self.queue_size - len(self._memory.items), 0)
            if room < len(records):
                self._counters["dropped"] += len(records) - room
                self._warn("queue", "output queue full (%d lines): lines dropped",
                           self.queue_size)
                records = records[:room]
            self._memory.items.extend(data for _, data in records)
        self._wake()

    def _encode(self, line: str, eid: str, severity: int) -> bytes:
        if "\n" in line or "\r" in line:  # one line is one message, whatever the caller did
            line = line.replace("\r", "\\r").replace("\n", "\\n")
        data = self._framer.frame(line, eid, severity).encode("utf-8", "replace")
        if self._udp_limit and len(data) > MAX_UDP:
            data = data[:MAX_UDP].decode("utf-8", "ignore").encode("utf-8")
            self._counters["truncated"] += 1
        return data

    def _spool_records(self, records: list[tuple[str, bytes]]) -> None:
        assert self.spool is not None
        if self.spool.append(records):
            self._counters["spooled"] += len(records)
        else:
            self._counters["dropped"] += len(records)
            self._counters["errors"] += 1
            self._warn("spool", "spool %s full or unwritable (%d MiB used): lines dropped",
                       self.spool.directory, self.spool.total_bytes >> 20)

    def alert(self, alert: Alert) -> None:
        """AlertSink: render the alert with the alert template and send it.

        Severity: ``alert_severity`` (notice), warning for failures (``Fail``,
        ``Unavailable``, ``Outdated`` in the name), as the log does.
        """
        eid = self.ids()
        failure = any(word in alert.name for word in ("Fail", "Unavailable", "Outdated"))
        self.send(self.renderer.alert(alert, event_id=eid, source_id=self._framer.hostname),
                  eid, severity=min(self.alert_severity, 4) if failure else self.alert_severity)

    def counters(self) -> dict[str, int]:
        """``sent dropped retried spooled errors truncated`` and the ``queued`` gauge."""
        out = dict(self._counters)
        out["queued"] = len(self._memory.items)
        if self.spool is not None:
            out["spool_bytes"] = self.spool.pending_bytes
            out["errors"] += self.spool.corrupt
        return out

    def _wake(self) -> None:
        loop, wakeup = self._loop, self._wakeup
        if loop is None or wakeup is None or wakeup.is_set():
            return
        if threading.get_ident() == self._loop_thread:
            wakeup.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop is closed: stop() has run
                loop.call_soon_threadsafe(wakeup.set)

    def _warn(self, kind: str, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._last_log.get(kind, -_LOG_EVERY) >= _LOG_EVERY:
            self._last_log[kind] = now
            log.warning(message, *args)

    # --- the delivering task -----------------------------------------------------------------

    async def start(self) -> None:
        """Start delivering (what the spool holds from an earlier run goes first)."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._wakeup = asyncio.Event()
        self._stop_requested = asyncio.Event()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="syslog-output")

    async def stop(self, timeout: float = 5.0) -> None:
        """Deliver what is queued for at most ``timeout`` s, then close.

        Without a spool, what is still queued is dropped (counted); the spool keeps it.
        """
        if self._task is not None:
            self._stopping = True
            if self._wakeup is not None:
                self._wakeup.set()
                self._stop_requested.set()  # a retry wait ends: one last attempt
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        self._close_connection()
        left = 0
        if self.spool is not None:
            self.spool.close()
            self.spool = None
            self._source = self._memory
        else:
            left = len(self._memory.items) + (len(self._inflight.messages)
                                              if self._inflight is not None else 0)
        self._inflight = None
        if left:
            self._counters["dropped"] += left
            log.warning("output stopped with %d lines undelivered (dropped)", left)
            self._memory.items.clear()
        self._loop = None

    async def _run(self) -> None:
        while True:
            try:
                if await self._step():
                    return
            except asyncio.CancelledError:
                raise
            except Exception:  # the output must outlive any one bug
                self._counters["errors"] += 1
                log.exception("output to %s:%d failed", self.host, self.port)
                if self._inflight is not None:
                    self._fail(self._inflight)
                await asyncio.sleep(1.0)

    async def _step(self) -> bool:
        """Deliver one batch, or wait for lines; True when stopping with nothing left.

        One batch at a time: it is sent, acknowledged and (with a spool) committed
        before the next, so a crash or a lost connection repeats at most that batch.
        """
        assert self._wakeup is not None
        batch = self._source.take(self.batch_lines, self.batch_bytes)
        if batch is None:
            if self._stopping:
                return True
            self._wakeup.clear()
            if not self._source.pending():
                await self._sleep_or_wake(1.0)
            return False
        self._inflight = batch
        try:
            if self.protocol == "tcp":
                await self._send_tcp(batch)
            else:
                await self._send_udp(batch)
        except OSError as exc:
            self._fail(batch)
            if self._stopping:
                # Stopping with the receiver away: no retry waits (the spool, if any,
                # keeps the lines; without one they are counted as dropped by stop()).
                self._warn("down", "output to %s:%d failed while stopping (%s)",
                           self.host, self.port, exc.strerror or exc)
                return True
            await self._after_failure(exc)
            return False
        self._inflight = None
        self._counters["sent"] += len(batch.messages)
        self._failures = 0
        if self.spool is not None and batch.position is not None:
            try:
                await asyncio.to_thread(self.spool.commit, batch.position)
            except OSError as exc:  # delivered: at worst it is sent again after a restart
                self._counters["errors"] += 1
                self._warn("commit", "spool commit failed: %s", exc)
        return False

    async def _retry_pause(self) -> None:
        """Wait ``retry_interval`` before a retry, or less when the output is stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_requested.wait(), self.retry_interval)

    async def _sleep_or_wake(self, seconds: float) -> None:
        assert self._wakeup is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), seconds)

    async def _send_tcp(self, batch: _Batch) -> None:
        if self._conn is not None and self._conn.closed:
            self._close_connection()  # the receiver went away while idle
        if self._conn is None:
            loop = asyncio.get_running_loop()
            _, conn = await asyncio.wait_for(
                loop.create_connection(_TcpConnection, self.host, self.port),
                self.connect_timeout)
            self._conn = conn
            log.info("output connected to %s:%d", self.host, self.port)
        self._conn.write(b"\n".join(batch.messages) + b"\n")
        await asyncio.wait_for(self._acknowledged(self._conn), self.write_timeout)

    @staticmethod
    async def _acknowledged(conn: _TcpConnection) -> None:
        """Wait until the receiver's TCP stack has acknowledged every byte written."""
        await conn.drain()
        delay = 0.0
        while True:
            if conn.closed:
                raise ConnectionResetError("the receiver closed the connection")
            if conn.unacknowledged() == 0:
                return
            await asyncio.sleep(delay)
            delay = min(0.05, delay * 2 or 0.0005)

    async def _send_udp(self, batch: _Batch) -> None:
        loop = asyncio.get_running_loop()
        if self._udp is None:
            info = await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)
            family, _, _, _, address = info[0]
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setblocking(False)
            try:
                sock.connect(address)
            except OSError:
                sock.close()
                raise
            self._udp = sock
        for message in batch.messages:
            try:
                self._udp.send(message)
            except BlockingIOError:
                await loop.sock_sendall(self._udp, message)

    def _fail(self, batch: _Batch) -> None:
        """Close the connection; the batch goes back to be sent again."""
        self._inflight = None
        self._close_connection()
        self._source.rewind([batch])

    async def _after_failure(self, exc: OSError) -> None:
        self._failures += 1
        reason = exc.strerror or str(exc) or type(exc).__name__
        if self._failures <= self.retries:
            self._counters["retried"] += 1
            self._warn("retry", "output to %s:%d failed (%s): retry %d of %d in %g s",
                       self.host, self.port, reason, self._failures, self.retries,
                       self.retry_interval)
            await self._retry_pause()
        elif self.spool is not None:
            self._counters["retried"] += 1
            self._warn("down", "output to %s:%d failed (%s): lines stay spooled, retrying "
                       "every %g s", self.host, self.port, reason, self.retry_interval)
            await self._retry_pause()
        else:
            batch = self._memory.take(self.batch_lines, self.batch_bytes)
            dropped = len(batch.messages) if batch else 0
            self._counters["dropped"] += dropped
            self._failures = 0
            log.warning("output to %s:%d failed (%s) after %d retries: %d lines dropped",
                        self.host, self.port, reason, self.retries, dropped)

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._udp is not None:
            self._udp.close()
            self._udp = None
