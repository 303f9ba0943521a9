"""TCP input: syslog (LF or octet counting) or JSON lines, read in chunks.

A chunk's messages go to the intake, which ``await``s the queue when it is full: while the
queue is full this connection is not read, the kernel buffers fill, and the
sender is slowed down (TCP backpressure), nothing is dropped.
"""

from __future__ import annotations

import asyncio
import logging

from trapline.collector.inputs.base import StreamServerInput
from trapline.collector.inputs.framing import Framer

log = logging.getLogger("trapline.collector.input")


class TcpInput(StreamServerInput):
    open_connections = 0

    async def start(self) -> None:
        self.writers: set[asyncio.StreamWriter] = set()
        await super().start()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        intake = self.intake
        if self.open_connections >= self.config.max_connections:
            intake.counters.add(intake.prefix + "connections_refused")
            writer.close()
            return
        self.open_connections += 1
        self.writers.add(writer)
        intake.counters.add(intake.prefix + "connections")
        framer = Framer(self.config.framing, self.config.max_line_bytes)
        try:
            while chunk := await reader.read(1 << 16):
                await intake.messages(framer.feed(chunk))
                if framer.too_long:
                    intake.counters.add(intake.prefix + "too_long", framer.too_long)
                    framer.too_long = 0
            tail = framer.buffer.rstrip(b"\r\n")
            if tail and not framer.skip_to_lf and not framer.skip_bytes:
                await intake.line(tail.decode("utf-8", "replace"))  # last line without LF
        except (ConnectionError, OSError) as exc:
            log.debug("input %s: connection ended: %s", self.config.name, exc)
        finally:
            self.open_connections -= 1
            self.writers.discard(writer)
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for writer in list(self.writers):
                writer.close()
