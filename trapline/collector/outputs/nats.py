"""NATS JetStream output: every event line published to ``subject``, each PubAck awaited.

A batch's publishes go out together and their PubAcks are awaited together (at most
``timeout`` seconds); a batch with a failed publish raises, and goes through the
retries and the spool of outputs/base.py like any other output's. A retried batch is
published whole again: the events of it the broker had already stored arrive twice
(at-least-once). The connection is opened on the first send (reconnects are
nats-py's); with ``stream``, the stream is created with ``subjects = [subject]`` if
missing, and every publish names it (the broker refuses one another stream would take).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import nats
import nats.errors

from trapline.collector.inputs.nats import ensure_stream, servers
from trapline.collector.outputs.base import Output

log = logging.getLogger("trapline.collector.output")


class NatsOutput(Output):
    nc: Any = None
    js: Any = None
    closing_connection = False  # shutdown(): the disconnect that follows is ours
    last_error: Exception | None = None  # nats-py's last report (e.g. a refused connect)

    async def _connect(self) -> Any:
        if self.nc is not None and not self.nc.is_closed:
            return self.js
        config = self.config
        nc = await nats.connect(
            servers(config.url), name=f"trapline collect {config.name}",
            connect_timeout=config.timeout, allow_reconnect=True, max_reconnect_attempts=-1,
            reconnect_time_wait=1, error_cb=self._error, disconnected_cb=self._disconnected,
            reconnected_cb=self._reconnected)
        try:
            js = nc.jetstream()
            if config.stream:
                await ensure_stream(js, config.stream, config.subject)
        except BaseException:
            with contextlib.suppress(Exception):
                await nc.close()
            raise
        self.nc, self.js = nc, js
        return js

    async def _error(self, exc: Exception) -> None:
        self.last_error = exc
        log.debug("output %s: nats: %r", self.config.name, exc)

    async def _disconnected(self) -> None:
        if self.closing_connection:
            return
        self.counters.add(self.prefix + "disconnects")
        log.warning("output %s: disconnected from %s", self.config.name, self.config.url)

    async def _reconnected(self) -> None:
        self.counters.add(self.prefix + "reconnects")
        log.info("output %s: reconnected", self.config.name)

    async def send(self, batch: list[bytes]) -> None:
        config = self.config
        stream = config.stream or None
        try:
            async with asyncio.timeout(config.timeout):
                js = await self._connect()
                results = await asyncio.gather(
                    *(js.publish(config.subject, line.rstrip(b"\n"), timeout=config.timeout,
                                 stream=stream) for line in batch),
                    return_exceptions=True)
        except nats.errors.Error as exc:
            raise OSError(f"NATS {config.url}: {type(exc).__name__}: {exc}") from None
        except TimeoutError:
            if self.nc is None and self.last_error is not None:  # still connecting
                raise OSError(f"NATS {config.url}: cannot connect: "
                              f"{type(self.last_error).__name__}: {self.last_error}") from None
            raise
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            first = failed[0]
            if not isinstance(first, Exception):
                raise first
            raise OSError(f"NATS {config.url}: {len(failed)} of {len(batch)} publishes "
                          f"failed: {type(first).__name__}: {first}")

    async def shutdown(self) -> None:
        if self.nc is not None:
            self.closing_connection = True
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await self.nc.drain()
            self.nc = None
