"""The intake every input feeds: parse, preset, queue, count."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from trapline.collector.config import InputConfig
from trapline.collector.counters import Counters
from trapline.collector.parsers import PARSERS, ParseError, parse_json
from trapline.collector.schema import PRESETS, Event

log = logging.getLogger("trapline.collector.input")


class Intake:
    """Turns one input's lines into events on the shared queue."""

    def __init__(self, config: InputConfig, queue: asyncio.Queue[Event],
                 counters: Counters,
                 emitted: dict[int, Callable[[], None]] | None = None) -> None:
        self.queue = queue
        self.emitted = emitted if emitted is not None else {}  # see tracked()
        self.counters = counters
        self.prefix = f"input_{config.name}_"
        self.count_received = self.prefix + "received"
        self.parser = PARSERS[config.format]
        # JSON is parsed from the bytes as read (msgspec checks the UTF-8 itself): no
        # decoding to str and encoding back; a line it refuses takes the text path.
        self.bytes_parser = parse_json if config.format == "json" else None
        self.preset = PRESETS.get(config.preset)
        self.name = config.name

    def make(self, line: str) -> Event:
        try:
            event = self.parser(line)
        except ParseError as exc:
            self.counters.add(self.prefix + "parse_errors")
            event = {"message": line, "ParseError": str(exc)}
        return self.finish(event)

    def make_from_bytes(self, message: bytes) -> Event:
        if self.bytes_parser is not None:
            try:
                return self.finish(self.bytes_parser(message))
            except ParseError:
                pass  # counted, and kept as text, by make
        return self.make(message.decode("utf-8", "replace"))

    def finish(self, event: dict[str, Any]) -> Event:
        if self.preset is not None:
            self.preset(event)
        self.counters[self.count_received] += 1
        return event

    async def line(self, line: str) -> None:
        await self.queue.put(self.make(line))

    async def messages(self, messages: list[bytes]) -> None:
        """A chunk's messages (UTF-8, undecodable bytes replaced) onto the queue in
        order; waits (backpressure) only when the queue is full."""
        queue = self.queue
        for message in messages:
            event = self.make_from_bytes(message)
            if queue.full():
                await queue.put(event)
            else:
                queue.put_nowait(event)

    async def tracked(self, message: bytes, on_emitted: Callable[[], None]) -> None:
        """One message's event onto the queue (waits while it is full); ``on_emitted`` is
        called once the event is in every output's queue, never if the collector stops
        first. It is kept beside the event (the collector's ``emitted``), not in it."""
        event = self.make_from_bytes(message)
        key = id(event)
        self.emitted[key] = on_emitted
        try:
            await self.queue.put(event)
        except BaseException:
            del self.emitted[key]  # not queued: its id may name another event later
            raise

    async def event(self, event: dict[str, Any]) -> None:
        await self.queue.put(self.finish(event))

    def line_nowait(self, line: str) -> bool:
        try:
            self.queue.put_nowait(self.make(line))
        except asyncio.QueueFull:
            self.counters.add(self.prefix + "dropped")
            return False
        return True

    def too_long(self) -> None:
        self.counters.add(self.prefix + "too_long")


class Input:
    def __init__(self, config: InputConfig, intake: Intake) -> None:
        self.config = config
        self.intake = intake

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        """Stop taking events in (before the collector drains)."""
        return None

    async def close(self) -> None:
        """Release what is left, once the collector drained (or gave up draining)."""
        return None

    @property
    def address(self) -> tuple[str, int] | None:
        return None

    @property
    def where(self) -> str:
        """What the input reads, for the log and the ready line."""
        if self.address is not None:
            return f"{self.address[0]}:{self.address[1]}"
        return self.config.path or self.config.listen


class StreamServerInput(Input):
    """An input that listens on ``listen`` for stream connections, each served by
    ``_serve`` (TCP lines, HTTP requests)."""

    server: asyncio.Server | None = None

    async def start(self) -> None:
        host, port = split_address(self.config.listen)
        self.server = await asyncio.start_server(self._serve, host, port, limit=1 << 16)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    @property
    def address(self) -> tuple[str, int] | None:
        if self.server is None or not self.server.sockets:
            return None
        name = self.server.sockets[0].getsockname()
        return name[0], name[1]


def split_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)
