"""The contract every output keeps: a bounded queue, batches, retries, counters."""

from __future__ import annotations

import asyncio
import logging

from trapline.collector.config import OutputConfig
from trapline.collector.counters import Counters

log = logging.getLogger("trapline.collector.output")


class Output:
    def __init__(self, config: OutputConfig, counters: Counters) -> None:
        self.config = config
        self.counters = counters
        self.prefix = f"output_{config.name}_"
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(config.queue)
        self.task: asyncio.Task[None] | None = None

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
        while True:
            batch = [await self.queue.get()]
            while len(batch) < self.config.batch and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            await self._deliver(batch)
            for _ in batch:
                self.queue.task_done()

    async def _deliver(self, batch: list[bytes]) -> None:
        pause = self.config.retry_interval
        for attempt in range(self.config.retries + 1):
            try:
                await self.send(batch)
            except (OSError, RuntimeError, TimeoutError) as exc:
                self.counters.add(self.prefix + "errors")
                if attempt == self.config.retries:
                    self.counters.add(self.prefix + "dropped", len(batch))
                    log.error("output %s: dropped %d events after %d attempts: %s",
                              self.config.name, len(batch), attempt + 1, exc)
                    return
                self.counters.add(self.prefix + "retried")
                log.warning("output %s: %s; retrying in %.1f s", self.config.name, exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)
            else:
                self.counters.add(self.prefix + "sent", len(batch))
                return

    async def send(self, batch: list[bytes]) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        """Send what is queued, then stop."""
        await self.queue.join()
        if self.task is not None:
            self.task.cancel()
        await self.shutdown()

    async def shutdown(self) -> None:
        return None
