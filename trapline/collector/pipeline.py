"""The collector's stages and the bounded queues between them.

    inputs --(queue: collector.queue events)--> dispatcher --(in flight: the largest
    rule queue_limit)--> rules, in order --> every output's queue --> outputs

The dispatcher takes the queued events in batches and asks each rule for its
plan (filter, mapped values); an event no rule looks up goes straight out;
the others are handed to their first rule with a callback that hands them to
the next (each rule writes the answer, the timeout or the failure before it
calls back), and after the last to the emitter task, which queues them to
every output. No task per event: callbacks and one worker per rule. Every
queue is bounded, and every stage awaits the next, so a slow service or output slows the inputs (TCP
stops being read) instead of growing memory; UDP drops are counted. Events
may leave in another order than they came.

An input that must know when its event went out (nats: it acks the message then) hands
the intake a callback with the event; the intake keeps it beside the event, in
``Collector.emitted`` (keyed by the event's ``id``: nothing is added to the event, which
is serialized as it is), and ``_emit`` calls it once the event is in every output's
queue. An event that is not emitted before the collector stops never has its callback
called.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec

from trapline.collector.config import CollectorConfig
from trapline.collector.counters import Counters
from trapline.collector.enrich.answer import Sent
from trapline.collector.enrich.rule import EnrichmentRule
from trapline.collector.inputs import Input, Intake, make_input
from trapline.collector.outputs import Output, make_output
from trapline.collector.schema import Event

log = logging.getLogger("trapline.collector")


def _default(value: Any) -> Any:
    return str(value)


_encoder = msgspec.json.Encoder(enc_hook=_default)
_BATCH = 1024  # events the dispatcher takes from the queue at once


class Collector:
    def __init__(self, config: CollectorConfig) -> None:
        self.config = config
        self.counters = Counters()
        self.queue: asyncio.Queue[Event] = asyncio.Queue(config.collector.queue)
        self.rules = [EnrichmentRule(rule, self.counters) for rule in config.rules]
        self.in_flight_limit = max((rule.queue_limit for rule in config.rules), default=1)
        self.in_flight = 0  # events handed to the rules and not yet emitted
        self._room: asyncio.Future[None] | None = None  # the dispatcher waits for room
        self.finished: deque[Event] = deque()  # enriched, for the emitter
        self._finished_wake: asyncio.Future[None] | None = None
        self._emitter: asyncio.Task[None] | None = None
        self.outputs: list[Output] = [make_output(o, self.counters) for o in config.outputs]
        # id(event) -> called once the event is in every output's queue (see the docstring)
        self.emitted: dict[int, Callable[[], None]] = {}
        self.inputs: list[Input] = [
            make_input(i, Intake(i, self.queue, self.counters, self.emitted))
            for i in config.inputs]
        self._dispatcher: asyncio.Task[None] | None = None
        self._stats: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # Thousands of events in flight are hundreds of thousands of live objects, and
        # the default collection thresholds scan them over and over (more than half of
        # the CPU time at full load, measured). The start-up objects are frozen out of
        # collection, and collections run less often; the events hold no cycles.
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 50, 50)
        for output in self.outputs:
            output.start()
        loop = asyncio.get_running_loop()
        self._dispatcher = loop.create_task(self._dispatch())
        self._emitter = loop.create_task(self._emit_finished())
        for input_ in self.inputs:
            await input_.start()
            log.info("input %s: %s", input_.config.name, input_.where)
        if self.config.collector.stats_interval > 0:
            self._stats = loop.create_task(self._log_stats())

    async def _dispatch(self) -> None:
        queue, rules, counters = self.queue, self.rules, self.counters
        limit, loop = self.in_flight_limit, asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            while len(batch) < _BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            for event in batch:
                wanted = []
                for rule in rules:
                    sent = rule.plan(event)
                    if sent:
                        wanted.append((rule, sent))
                if not wanted:
                    counters.add("events_passed")
                    await self._emit(event)
                    queue.task_done()
                    continue
                while self.in_flight >= limit:
                    self._room = loop.create_future()
                    await self._room
                    self._room = None
                self.in_flight += 1
                self._next(_Route(self, event, wanted))

    def _next(self, route: _Route) -> None:
        """Hand the event to its next rule, or to the emitter after the last."""
        wanted = route.wanted
        while route.index < len(wanted):
            rule, sent = wanted[route.index]
            try:
                rule.submit(route.event, sent, route.advance)
                return
            except Exception as exc:  # a bug must not lose the event
                log.exception("rule %s failed on an event", rule.name)
                route.event.setdefault("TIStatus", {})[rule.name] = f"unenriched: error: {exc}"
                self.counters.add(f"rule_{rule.name}_errors")
                route.index += 1
        self.finished.append(route.event)
        wake = self._finished_wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def _emit_finished(self) -> None:
        finished, loop = self.finished, asyncio.get_running_loop()
        while True:
            while not finished:
                self._finished_wake = loop.create_future()
                await self._finished_wake
                self._finished_wake = None
            while finished:
                await self._emit(finished.popleft())
                self.in_flight -= 1
                self.queue.task_done()
                room = self._room
                if room is not None and not room.done():
                    room.set_result(None)

    async def _emit(self, event: Event) -> None:
        status = event.get("TIStatus")
        if status:
            for value in status.values():
                if value != "enriched":
                    self.counters["events_unenriched"] += 1
                    break
        line = _encoder.encode(event) + b"\n"
        for output in self.outputs:
            if not output.try_put(line):
                await output.put(line)
        self.counters["events_out"] += 1
        if self.emitted:
            done = self.emitted.pop(id(event), None)
            if done is not None:
                done()

    async def _log_stats(self) -> None:
        while True:
            await asyncio.sleep(self.config.collector.stats_interval)
            log.info("counters %s", msgspec.json.encode(self.counters.snapshot()).decode())

    async def stop(self) -> None:
        """Stop the inputs, finish the events in flight, flush the outputs."""
        for input_ in self.inputs:
            await input_.stop()
        for output in self.outputs:
            output.begin_close()
        deadline = time.monotonic() + self.config.collector.drain_timeout
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), 0.01)):
                await self.queue.join()
                for output in self.outputs:
                    await output.close()
        except TimeoutError:
            log.error("stopping: %d events still queued after %.0f s", self.queue.qsize(),
                      self.config.collector.drain_timeout)
        for input_ in self.inputs:
            await input_.close()  # after the drain: e.g. the acks of what went out
        for task in (self._dispatcher, self._emitter, self._stats):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for rule in self.rules:
            await rule.close()


async def run_collector(config: CollectorConfig, stop: asyncio.Event,
                        ready: asyncio.Event | None = None) -> Counters:
    collector = Collector(config)
    await collector.start()
    if ready is not None:
        ready.set()
    await stop.wait()
    await collector.stop()
    return collector.counters


class _Route:
    """An event on its way through its rules (one object per event, not a closure per
    rule): ``advance`` is the callback each rule calls when it is done with it."""

    __slots__ = ("collector", "event", "index", "wanted")

    def __init__(self, collector: Collector, event: Event,
                 wanted: list[tuple[EnrichmentRule, list[Sent]]]) -> None:
        self.collector, self.event, self.wanted, self.index = collector, event, wanted, 0

    def advance(self) -> None:
        self.index += 1
        self.collector._next(self)
