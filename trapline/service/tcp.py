"""The event service on TCP (default 0.0.0.0:9999), CyberTrace-compatible (protocol.md 1).

A connection may open with flags written back to back (``X-KF-ReplyBack``,
``X-KF-SendFinishedEvent``, ``X-KF-SaveStatistic``, ``X-KF-ReplyBackPING``), in
the same segment as the first event or split over several; then one event per
LF-terminated line (CR ignored, invalid UTF-8 replaced and counted). With
reply-back, detections (and finished lines, when asked) go back on the
connection in event order; without it they go to the output. The finished
line goes back to a client that asked for it either way.

Data is read in whole chunks and split on LF, never line by line. A line over
``max_line`` bytes is dropped (counted) up to its LF and the connection goes
on. Lookups are microseconds, so events are processed as they arrive; when the
client does not read its replies, the transport's buffer fills, reading from
that client pauses (``pause_writing``), and only that client slows down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

from trapline.service.events import EventProcessor
from trapline.service.stats import Stats

log = logging.getLogger("trapline.service")

REPLY_BACK = b"X-KF-ReplyBack"
FINISHED = b"X-KF-SendFinishedEvent"
SAVE_STATISTIC = b"X-KF-SaveStatistic"
PING = b"X-KF-ReplyBackPING"
FLAGS = (PING, FINISHED, SAVE_STATISTIC, REPLY_BACK)  # PING before its prefix ReplyBack
FLAG_PREFIX = b"X-KF-"
WRITE_HIGH_WATER = 1 << 20


class Limits:
    """Per-connection limits (docs/configuration.md, ``[service]``)."""

    def __init__(self, max_line: int = 65536, idle_timeout: float = 300.0,
                 max_connections: int = 10000) -> None:
        self.max_line = max_line
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections


class EventProtocol(asyncio.Protocol):
    """One client connection of the event service."""

    def __init__(self, processor: EventProcessor, output: Callable[[list[str]], None],
                 limits: Limits, stats: Stats, connections: set[EventProtocol]) -> None:
        self.processor = processor
        self.output = output
        self.limits = limits
        self.stats = stats
        self.connections = connections
        self.buffer = bytearray()
        self.flags_done = False
        self.reply_back = False
        self.finished = False
        self.save_statistic = False
        self.skipping = False  # inside a line over max_line: drop until its LF
        self.transport: asyncio.Transport | None = None
        self.source_id = ""
        self.idle: asyncio.TimerHandle | None = None

    # -- connection lifecycle ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        peer = transport.get_extra_info("peername")
        self.source_id = peer[0] if isinstance(peer, tuple) else ""
        if len(self.connections) >= self.limits.max_connections:
            self.stats.count("connections_refused")
            transport.abort()
            return
        self.connections.add(self)
        self.stats.count("connections")
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)
        if self.idle is not None:
            self.idle.cancel()

    def pause_writing(self) -> None:
        """The client is not reading its replies: stop reading its events."""
        self.stats.count("backpressure_pauses")
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def _arm_idle(self) -> None:
        if self.idle is not None:
            self.idle.cancel()
        if self.limits.idle_timeout > 0 and self.transport is not None:
            loop = asyncio.get_running_loop()
            self.idle = loop.call_later(self.limits.idle_timeout, self._on_idle)

    def _on_idle(self) -> None:
        self.stats.count("connections_idle_closed")
        if self.transport is not None:
            self.transport.close()

    # -- data --------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._arm_idle()
        self.buffer += data
        if not self.flags_done and not self._read_flags():
            return
        self._read_lines()

    def eof_received(self) -> bool | None:
        if self.buffer and not self.skipping and self.flags_done:
            events: list[str] = []
            self._event(bytes(self.buffer), events)  # a last event without its LF
            self._flush(events)
        self.buffer.clear()
        return None

    def _read_flags(self) -> bool:
        """Consume leading flags; False while the buffer may still be one cut short."""
        while self.buffer.startswith(FLAG_PREFIX):
            for flag in FLAGS:
                if self.buffer.startswith(flag):
                    if flag == REPLY_BACK and len(self.buffer) < len(PING) and PING.startswith(
                            self.buffer):
                        return False  # "X-KF-ReplyBack" may still become "...PING"
                    del self.buffer[:len(flag)]
                    self._set_flag(flag)
                    break
            else:
                if any(flag.startswith(self.buffer) for flag in FLAGS):
                    return False  # a flag split across segments: wait for the rest
                break  # "X-KF-" then something else: an event line, not a flag
        if not self.buffer:
            return False
        self.flags_done = True
        return True

    def _set_flag(self, flag: bytes) -> None:
        if flag == PING:
            self.stats.count("pings")
            if self.transport is not None:
                self.transport.write(b"PONG\n")
        elif flag == REPLY_BACK:
            self.reply_back = True
        elif flag == FINISHED:
            self.finished = True
        else:
            self.save_statistic = True

    def _read_lines(self) -> None:
        """Process every complete line of the buffer; replies go out in one write."""
        buffer = self.buffer
        start = 0
        events: list[str] = []
        while True:
            end = buffer.find(b"\n", start)
            if end == -1:
                break
            if self.skipping:
                self.skipping = False
            elif end - start > self.limits.max_line:
                self._too_long()
            else:
                self._event(bytes(buffer[start:end]), events)
            start = end + 1
        del buffer[:start]
        if len(buffer) > self.limits.max_line:
            if not self.skipping:
                self._too_long()
            self.skipping = True
            buffer.clear()
        self._flush(events)

    def _flush(self, events: list[str]) -> None:
        """Process a chunk's events together; their replies go out in one write."""
        if not events:
            return
        outcomes = self.processor.process_many(
            events, source_id=self.source_id, finished=self.finished,
            count=self.save_statistic or not self.reply_back)
        back: list[str] = []
        output: list[str] = []
        # The finished line always comes back to the client that asked for it (it paces
        # its events by it); detections come back only with reply-back.
        detections = back if self.reply_back else output
        for outcome in outcomes:
            detections.extend(outcome.detections)
            if outcome.finished is not None:
                back.append(outcome.finished)
        if output:
            self.output(output)
        if back and self.transport is not None:
            self.transport.write(("\n".join(back) + "\n").encode("utf-8", "replace"))

    def _too_long(self) -> None:
        self.stats.count("lines_too_long")
        log.warning("event line over %d bytes from %s dropped", self.limits.max_line,
                    self.source_id)

    def _event(self, raw: bytes, events: list[str]) -> None:
        raw = raw.replace(b"\r", b"")
        if not raw.strip():
            return
        try:
            events.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            events.append(raw.decode("utf-8", "replace"))
            self.stats.count("invalid_utf8")


async def serve_events(host: str, port: int, protocol_factory: Callable[[], EventProtocol], *,
                       reuse_port: bool = False) -> asyncio.Server:
    """Listen for event connections; several processes may share the port (reuse_port)."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(protocol_factory, host, port, reuse_port=reuse_port,
                                    backlog=1024)
