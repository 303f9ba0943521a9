"""NATS JetStream input: a durable pull consumer, each message body one event line.

At-least-once: a message is acked only once its event is in every output's queue (the
intake's ``tracked`` callback); a message whose event is not that far when the
collector stops (or dies) is not acked, and the broker delivers it again after
``ack_wait`` seconds, to this collector or another. Collectors that name the same
``durable`` share one consumer: the broker hands each message to one of them.

Backpressure: a fetch asks for at most ``batch`` messages and never more than the
collector queue has room for; while the queue is full nothing is fetched (the
messages wait in the stream). Reconnects are nats-py's; errors are logged and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js import api

from trapline.collector.inputs.base import Input

log = logging.getLogger("trapline.collector.input")

_FETCH_WAIT = 1.0  # seconds a fetch waits for messages before asking again
_FULL_WAIT = 0.01  # seconds between looks at a full collector queue
_CONNECT_TIMEOUT = 10.0  # seconds start() may take to connect and set up


def servers(url: str) -> list[str]:
    return [part.strip() for part in url.split(",") if part.strip()]


async def ensure_stream(js: Any, stream: str, subject: str) -> None:
    """Create the stream with ``subjects = [subject]`` unless it exists (another
    collector creating it at the same time is fine: the same config is accepted)."""
    try:
        await js.stream_info(stream)
        return
    except nats.js.errors.NotFoundError:
        pass
    try:
        await js.add_stream(name=stream, subjects=[subject])
        log.info("nats: created stream %s (subjects %s)", stream, subject)
    except nats.js.errors.BadRequestError as exc:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.stream_info(stream)  # created meanwhile by another collector
            return
        raise OSError(f"cannot create stream {stream!r}: {exc.description}") from None


class NatsInput(Input):
    nc: Any = None
    stopping = False  # stop(): fetch no more
    closing = False  # close(): the disconnect that follows is ours
    task: asyncio.Task[None] | None = None
    acker: asyncio.Task[None] | None = None

    @property
    def where(self) -> str:
        return f"{self.config.url} {self.config.stream}/{self.config.subject} " \
               f"(durable {self.config.durable})"

    async def start(self) -> None:
        config, counters, prefix = self.config, self.intake.counters, self.intake.prefix
        self._to_ack: deque[Msg] = deque()
        self._ack_wake = asyncio.Event()
        self._logged_at = -1e9

        async def error_cb(exc: Exception) -> None:
            self.last_error = exc
            counters.add(prefix + "errors")
            self._log_error(f"nats error: {exc!r}")

        async def disconnected_cb() -> None:
            if self.closing:
                return
            counters.add(prefix + "disconnects")
            log.warning("input %s: disconnected from %s", config.name, config.url)

        async def reconnected_cb() -> None:
            counters.add(prefix + "reconnects")
            log.info("input %s: reconnected to %s", config.name, self.nc.connected_url)

        self.last_error: Exception | None = None
        try:
            async with asyncio.timeout(_CONNECT_TIMEOUT):
                await self._connect(error_cb, disconnected_cb, reconnected_cb)
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            if self.nc is not None:
                with contextlib.suppress(Exception):
                    await self.nc.close()
                self.nc = None
            reason = exc if not isinstance(exc, TimeoutError) or self.last_error is None \
                else self.last_error
            raise OSError(f"input {config.name}: NATS at {config.url}: "
                          f"{type(reason).__name__}: {reason}") from None
        loop = asyncio.get_running_loop()
        self.task = loop.create_task(self._fetch())
        self.acker = loop.create_task(self._ack())

    async def _connect(self, error_cb: Any, disconnected_cb: Any, reconnected_cb: Any) -> None:
        """Connect (nats-py retries a refused first connect: bounded by start's timeout),
        create the stream and the durable consumer if missing, bind to it."""
        config = self.config
        self.nc = await nats.connect(
            servers(config.url), name=f"trapline collect {config.name}",
            connect_timeout=_CONNECT_TIMEOUT, allow_reconnect=True,
            max_reconnect_attempts=-1, reconnect_time_wait=1,
            error_cb=error_cb, disconnected_cb=disconnected_cb,
            reconnected_cb=reconnected_cb)
        js = self.nc.jetstream()
        await ensure_stream(js, config.stream, config.subject)
        consumer = api.ConsumerConfig(
            durable_name=config.durable, ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=config.ack_wait, deliver_policy=api.DeliverPolicy.ALL,
            filter_subject=config.subject)
        try:
            await js.add_consumer(config.stream, config=consumer)
        except nats.js.errors.BadRequestError as exc:
            # it exists with another configuration (e.g. another ack_wait): use it
            log.warning("input %s: consumer %s exists with another configuration; "
                        "using it as it is (%s)", config.name, config.durable,
                        exc.description)
        self.sub = await js.pull_subscribe_bind(
            durable=config.durable, stream=config.stream)

    def _log_error(self, text: str) -> None:
        now = time.monotonic()
        if now - self._logged_at >= 10:  # at most one line per 10 s
            self._logged_at = now
            log.error("input %s: %s", self.config.name, text)

    async def _fetch(self) -> None:
        intake, queue, sub = self.intake, self.intake.queue, self.sub
        counters, prefix = intake.counters, intake.prefix
        limit = self.config.max_line_bytes
        while not self.stopping:
            room = queue.maxsize - queue.qsize()
            if room <= 0:
                await asyncio.sleep(_FULL_WAIT)  # fetch nothing the queue cannot take
                continue
            try:
                messages = await sub.fetch(min(self.config.batch, room), timeout=_FETCH_WAIT)
            except TimeoutError:
                continue  # nothing there yet (nats-py also turns a cancel into this)
            except nats.errors.Error as exc:
                counters.add(prefix + "errors")
                self._log_error(f"fetch failed: {type(exc).__name__}: {exc}")
                await asyncio.sleep(1.0)
                continue
            for message in messages:
                if len(message.data) > limit:
                    intake.too_long()
                    self._done(message)  # processed: dropped and counted
                    continue
                await intake.tracked(message.data.rstrip(b"\r\n"),
                                     lambda m=message: self._done(m))

    def _done(self, message: Msg) -> None:
        """The event went out (or was dropped on purpose): ack the message."""
        self._to_ack.append(message)
        self._ack_wake.set()

    async def _ack(self) -> None:
        to_ack, counters = self._to_ack, self.intake.counters
        acked = self.intake.prefix + "acked"
        while True:
            await self._ack_wake.wait()
            self._ack_wake.clear()
            count = 0
            while to_ack:
                message = to_ack.popleft()
                try:
                    await message.ack()
                    count += 1
                except nats.errors.Error as exc:
                    # not acked: the broker delivers it again after ack_wait (a duplicate)
                    counters.add(self.intake.prefix + "ack_errors")
                    self._log_error(f"ack failed: {type(exc).__name__}: {exc}")
            if count:
                counters.add(acked, count)

    async def stop(self) -> None:
        """Fetch no more; a fetched message not yet queued stays unacked (redelivered)."""
        self.stopping = True
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError, nats.errors.Error):
                await self.task
            self.task = None

    async def close(self) -> None:
        """After the drain: send the acks of what went out, then close the connection."""
        if self.acker is not None:
            self._ack_wake.set()
            await asyncio.sleep(0)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    while self._to_ack and not self.acker.done():
                        await asyncio.sleep(0.01)
            self.acker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.acker
            self.acker = None
        if self.nc is not None:
            self.closing = True
            try:
                await self.nc.flush(timeout=5)  # the acks written so far reach the broker
            except (nats.errors.Error, TimeoutError, OSError) as exc:
                log.warning("input %s: flushing the acks: %s (their messages will be "
                            "delivered again)", self.config.name, exc)
            # not drain(): messages of a cancelled fetch wait in the subscription unread;
            # they are not acked, and the broker delivers them again after ack_wait
            with contextlib.suppress(Exception):
                await self.nc.close()
            self.nc = None
