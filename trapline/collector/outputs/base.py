"""The contract every output keeps: a bounded queue, batches, retries, counters, and
an optional disk spool (spool.py) for the batches that cannot be sent.

Without a spool, a batch that still fails after ``retries`` is dropped and counted.
With one, it goes to the spool and the output is *down*: the next batches go
straight to the spool (no retry pauses, so the pipeline keeps moving), except
that at most once per ``retry_interval`` one is tried first (a probe: a live
batch, or the oldest segment when nothing is queued). A send that succeeds
makes the output *up* again; while up, the spool is replayed oldest first, one
segment after each live batch and back to back while the queue is empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from trapline.collector.config import OutputConfig
from trapline.collector.counters import Counters
from trapline.collector.outputs.spool import Spool

log = logging.getLogger("trapline.collector.output")

_STOP = b""  # close() queues it last (an event line is never empty)
_FAILURES = (OSError, RuntimeError, TimeoutError)


class Output:
    def __init__(self, config: OutputConfig, counters: Counters) -> None:
        self.config = config
        self.counters = counters
        self.prefix = f"output_{config.name}_"
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(config.queue)
        self.task: asyncio.Task[None] | None = None
        self.closing = asyncio.Event()
        self.spool: Spool | None = None
        if config.spool:
            self.spool = Spool(config.spool, config.name, config.spool_max_bytes)
            self.spool.open()
        self.down = False  # the last batch went to the spool
        self.probe_at = 0.0  # while down: when a send may be tried again (monotonic)
        self._full_logged_at = -1e9

    async def put(self, line: bytes) -> None:
        """Queue one JSON event (ending in LF); waits while the queue is full."""
        await self.queue.put(line)

    def try_put(self, line: bytes) -> bool:
        """Queue one JSON event if there is room now (the fast path of ``put``)."""
        if self.queue.full():
            return False
        self.queue.put_nowait(line)
        return True

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        queue, size = self.queue, self.config.batch
        while True:
            line = await self._next()
            if line is None:
                continue  # the spool was replayed or probed meanwhile
            batch: list[bytes] = []
            while line:
                batch.append(line)
                if len(batch) >= size or queue.empty():
                    break
                line = queue.get_nowait()
            if batch:
                await self._deliver(batch)
            for _ in range(len(batch) + (not line)):
                queue.task_done()
            if not line:
                return  # close()
            if self.spool is not None and self.spool.segments and not self.down \
                    and not self.closing.is_set():
                await self._replay()  # one segment after each live batch

    async def _next(self) -> bytes | None:
        """The next queued line; while the queue is empty and the spool holds segments,
        replay one (or, while down, wait at most until the next probe): None."""
        spool = self.spool
        if spool is None or not spool.segments or self.closing.is_set() or \
                not self.queue.empty():
            return await self.queue.get()
        wait = self.probe_at - time.monotonic() if self.down else 0.0
        if wait <= 0:
            await self._replay()
            return None
        try:
            async with asyncio.timeout(wait):
                return await self.queue.get()
        except TimeoutError:
            return None

    async def _deliver(self, batch: list[bytes]) -> None:
        spool, retries = self.spool, self.config.retries
        if spool is not None and self.down:
            if self.closing.is_set() or time.monotonic() < self.probe_at:
                await self._to_spool(batch)
                return
            retries = 0  # the probe: one try
        pause = self.config.retry_interval
        for attempt in range(retries + 1):
            try:
                await self.send(batch)
            except _FAILURES as exc:
                self.counters.add(self.prefix + "errors")
                if spool is not None and (attempt == retries or self.closing.is_set()):
                    self._failed(exc)
                    await self._to_spool(batch)
                    return
                if attempt == retries:
                    self.counters.add(self.prefix + "dropped", len(batch))
                    log.error("output %s: dropped %d events after %d attempts: %s",
                              self.config.name, len(batch), attempt + 1, exc)
                    return
                self.counters.add(self.prefix + "retried")
                log.warning("output %s: %s; retrying in %.1f s", self.config.name, exc, pause)
                await self._pause(pause)
                pause = min(pause * 2, 30.0)
            else:
                self.counters.add(self.prefix + "sent", len(batch))
                self._up()
                return

    async def _pause(self, seconds: float) -> None:
        """The pause before a retry; with a spool, close() cuts it short."""
        if self.spool is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.closing.wait()

    def _failed(self, exc: BaseException) -> None:
        """A send failed and its batch goes (or stays) in the spool: down until a probe."""
        self.probe_at = time.monotonic() + self.config.retry_interval
        if not self.down:
            self.down = True
            assert self.spool is not None
            log.warning("output %s: down (%s); spooling to %s, trying again every %.1f s",
                        self.config.name, exc, self.spool.directory, self.config.retry_interval)

    def _up(self) -> None:
        if self.down:
            self.down = False
            assert self.spool is not None
            log.info("output %s: up again; %d spooled batch(es) to replay", self.config.name,
                     len(self.spool))

    async def _to_spool(self, batch: list[bytes]) -> None:
        assert self.spool is not None
        try:
            stored = await asyncio.to_thread(self.spool.put, batch)
        except OSError as exc:
            self.counters.add(self.prefix + "dropped", len(batch))
            log.error("output %s: dropped %d events: cannot write the spool: %s",
                      self.config.name, len(batch), exc)
            return
        if stored:
            self.counters.add(self.prefix + "spooled", len(batch))
            return
        self.counters.add(self.prefix + "spool_full", len(batch))
        self.counters.add(self.prefix + "dropped", len(batch))
        now = time.monotonic()
        if now - self._full_logged_at >= 10:  # at most one line per 10 s
            self._full_logged_at = now
            log.error("output %s: dropped %d events: the spool %s is full (%d of %d bytes; "
                      "counted %sspool_full)", self.config.name, len(batch),
                      self.spool.directory, self.spool.bytes, self.spool.max_bytes, self.prefix)

    async def _replay(self) -> None:
        """Send the oldest segment once; delete it only when that succeeded."""
        spool = self.spool
        assert spool is not None
        path = spool.segments[0][0]
        try:
            batch = await asyncio.to_thread(spool.oldest)
        except OSError as exc:
            log.error("output %s: cannot read %s (%s): left there, skipped", self.config.name,
                      path, exc)
            spool.remove_oldest(delete=False)
            return
        if batch:
            try:
                await self.send(batch)
            except _FAILURES as exc:
                self.counters.add(self.prefix + "errors")
                self._failed(exc)
                return
            self.counters.add(self.prefix + "replayed", len(batch))
            self._up()
        try:
            await asyncio.to_thread(spool.remove_oldest)
        except OSError as exc:
            log.error("output %s: sent %s but cannot delete it (%s): it will be sent again "
                      "after a restart", self.config.name, path, exc)

    async def send(self, batch: list[bytes]) -> None:
        raise NotImplementedError

    def begin_close(self) -> None:
        """Shutdown has begun: with a spool, a batch that fails from now on goes to it at
        once, without retry pauses (the events still in flight drain quickly)."""
        if self.spool is not None:
            self.closing.set()

    async def close(self) -> None:
        """Send what is queued, then stop. With a spool, what cannot be sent at once goes
        to the spool (no retry pauses), and the spool waits for the next start."""
        self.closing.set()
        if self.task is not None and not self.task.done():
            await self.queue.put(_STOP)
            await asyncio.wait([self.task])
        await self.shutdown()
        if self.spool is not None:
            self.spool.close()

    async def shutdown(self) -> None:
        return None
