"""One enrichment rule at work: filter, mapping, limits, cache, client, and the TI answer.

``plan(event)`` says which mapped values of an event this rule would look up
(none: the filter said no, or no mapped field holds a value); ``submit`` hands
them over with a callback, and the rule writes the answer into ``event["TI"]``
and the outcome into ``event["TIStatus"][rule]`` (``enriched``,
``unenriched: timeout: ...``, ``unenriched: unavailable: ...``) before calling
it back, exactly once. An event is never lost: a failure leaves it unenriched,
marked and counted.

No task per event: over TCP an event goes straight to a connection when
nothing waits and the RPS limiter has room (the fast path); otherwise one
worker per rule takes the waiting events in batches, as many as the RPS
limiter and ``queue_limit`` allow at once, and hands their requests to the
client (which writes each connection's share in one write). Over HTTP the
worker packs up to ``batch`` waiting events into one POST, at most one POST
per connection at a time, so events that arrive while the connections are
busy go together.
Verdict cache (``cache_ttl`` seconds, ``cache_size`` entries): an answer is
reused for the same request (the same request line over TCP, the same values
over HTTP) for ``cache_ttl`` seconds after it arrived, and an event whose
request is already on its way waits for that answer instead of sending it
again. Cached answers cost no request (they do not count against ``rps``);
failures are never cached.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trapline.collector.config import RuleConfig
from trapline.collector.counters import Counters
from trapline.collector.enrich.answer import Sent, http_entries, parse_lines, parsed_entries
from trapline.collector.enrich.cybertrace import CyberTraceClient, request_line
from trapline.collector.enrich.cybertrace_http import CyberTraceHttpClient
from trapline.collector.enrich.errors import EnrichError, Unavailable
from trapline.collector.enrich.limiter import WindowLimiter
from trapline.collector.filters import parse_filter
from trapline.collector.schema import Event, field_value
from trapline.collector.secrets import Credentials, read_secret_env, read_secret_file

log = logging.getLogger("trapline.collector.enrich")


def rule_credentials(config: Any) -> Credentials:
    if config.secret_file:
        return read_secret_file(Path(config.secret_file))
    return read_secret_env(config.user_env, config.password_env)


Finish = Callable[[], None]
Waiter = tuple[Event, list[Sent], Finish]


class EnrichmentRule:
    def __init__(self, config: RuleConfig, counters: Counters) -> None:
        self.config = config
        self.name = config.name
        self.counters = counters
        self.prefix = f"rule_{config.name}_"
        self.filter = parse_filter(config.filter) if config.filter.strip() else None
        self.limiter = WindowLimiter(config.rps)
        self.queue_limit = config.queue_limit
        self.cache_ttl = config.cache_ttl
        self.cache_size = config.cache_size
        self.batch = config.batch
        self.posts = 0  # cybertrace-http: POSTs on their way
        self.max_posts = config.connections if config.kind == "cybertrace-http" else 1 << 62
        self.cache: dict[Any, tuple[float, Any]] = {}
        self.asked: dict[Any, list[Waiter]] = {}  # requests on their way, by key
        self.waiting: deque[tuple[Any, Waiter]] = deque()
        self.active = 0  # requests started and not answered
        self._wake: asyncio.Future[None] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._calls: set[asyncio.Task[None]] = set()
        host, _, port = config.url.rpartition(":")
        self.client: CyberTraceClient | CyberTraceHttpClient
        if config.kind == "cybertrace":
            self.client = CyberTraceClient(host, int(port), config.connections, config.timeout)
        else:
            self.client = CyberTraceHttpClient(
                config.url, config.tenant, rule_credentials(config), config.connections,
                config.timeout, tls=config.tls, ca_file=config.ca_file, verify=config.verify)
        self.tcp = isinstance(self.client, CyberTraceClient)
        # Counter names made once: a name built per event costs a concatenation and a hash.
        self.count_requests, self.count_hits = self.prefix + "requests", self.prefix + "cache_hits"
        self.count_enriched = self.prefix + "enriched"
        self.count_detections = self.prefix + "detections"
        self.count_posts = self.prefix + "posts"
        self.count_filtered, self.count_none = self.prefix + "filtered", self.prefix + "no_values"
        self.rows = [(row.field, row.type, "." in row.field)
                     for row in config.mapping]

    def plan(self, event: Event) -> list[Sent]:
        if self.filter is not None and not self.filter(event):
            self.counters[self.count_filtered] += 1
            return []
        sent: list[Sent] = []
        for name, kind, dotted in self.rows:
            value = event.get(name)
            if value is None and dotted:
                value = field_value(event, name)
            if value is None:
                continue
            if value.__class__ is str:  # the usual case
                text = value.strip()
                if text and text != "-":
                    sent.append((name, kind, text))
                continue
            for item in value if isinstance(value, list) else (value,):
                if item is None or isinstance(item, _SKIP):
                    continue
                text = str(item).strip()
                if text and text != "-":
                    sent.append((name, kind, text))
        if not sent:
            self.counters[self.count_none] += 1
        return sent

    def submit(self, event: Event, sent: list[Sent], finish: Finish) -> None:
        """Look the event up; ``finish()`` once its TI and TIStatus are written (at
        once on a cache hit, else when the answer, the timeout or a failure comes)."""
        key = request_line(sent) if self.tcp else tuple([item[2] for item in sent])
        if self.cache_ttl > 0:
            cached = self.cache.get(key)
            if cached is not None:
                if cached[0] > time.monotonic():
                    self.counters[self.count_hits] += 1
                    self._settle(event, sent, cached[1], None)
                    finish()
                    return
                del self.cache[key]
            asked = self.asked.get(key)
            if asked is not None:
                self.counters[self.count_hits] += 1
                asked.append((event, sent, finish))
                return
        if self.tcp and not self.waiting and self.active < self.queue_limit:
            connection = self.client.ready()
            if connection is not None and self.limiter.take_now():
                # the fast path: nothing to wait for
                self._start(key, (event, sent, finish), connection)
                return
        self.waiting.append((key, (event, sent, finish)))
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work())
        self._signal()

    def _signal(self) -> None:
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def _work(self) -> None:
        """Start the waiting requests in batches: as many as the queue limit and the
        RPS limiter allow at once."""
        waiting, loop = self.waiting, asyncio.get_running_loop()
        while True:
            while not waiting or self.active >= self.queue_limit or self.posts >= self.max_posts:
                self._wake = loop.create_future()
                await self._wake
                self._wake = None
            client = self.client
            if isinstance(client, CyberTraceClient) and not any(
                    c.alive for c in client.connections):
                # Take RPS slots only when a connection can write the requests now: a
                # batch held back by a connect would reach the service late, beside the
                # next second's batch.
                with contextlib.suppress(EnrichError, TimeoutError):
                    async with asyncio.timeout(self.config.timeout):
                        await client._pick()
            room = self.queue_limit - self.active
            if not self.tcp:  # a POST per free connection: the others wait and group
                room = min(room, (self.max_posts - self.posts) * self.batch)
            count = await self.limiter.take(min(len(waiting), room))
            starting: list[tuple[Any, Waiter]] = []
            for _ in range(count):
                key, waiter = waiting.popleft()
                if self.cache_ttl > 0:
                    asked = self.asked.get(key)
                    if asked is not None:  # the same request started while this one waited
                        self.counters[self.count_hits] += 1
                        asked.append(waiter)
                        self.limiter.give_back()
                        continue
                if self.tcp:
                    self._start(key, waiter)
                else:
                    starting.append((key, waiter))
            for at in range(0, len(starting), self.batch):
                self._start_http(starting[at:at + self.batch])

    def _begin(self, key: Any, waiter: Waiter) -> _Ask:
        ask = _Ask(self, key, waiter)
        if self.cache_ttl > 0:
            self.asked[key] = ask.waiters
        self.active += 1
        self.counters[self.count_requests] += 1
        return ask

    def _start(self, key: Any, waiter: Waiter, connection: Any = None) -> None:
        """One event's request line over TCP (on ``connection``, when known)."""
        ask = self._begin(key, waiter)
        if self.config.debug:
            log.info("rule %s request: %s", self.name, key.decode().rstrip())
        assert isinstance(self.client, CyberTraceClient)
        self.client.submit(key, ask.done, connection)

    def _start_http(self, items: list[tuple[Any, Waiter]]) -> None:
        """One POST with the values of these events (an event whose values are already
        on their way in this POST waits for that answer)."""
        asks: list[_Ask] = []
        for key, waiter in items:
            asked = self.asked.get(key) if self.cache_ttl > 0 else None
            if asked is not None:  # the same values twice in one POST: asked once
                self.counters[self.count_hits] += 1
                asked.append(waiter)
                self.limiter.give_back()
            else:
                asks.append(self._begin(key, waiter))
        if not asks:
            return
        values = [value for ask in asks for value in ask.key]
        if self.config.debug:
            log.info("rule %s request: %s", self.name, values)
        self.posts += 1
        self.counters[self.count_posts] += 1
        task = asyncio.get_running_loop().create_task(self._http(values, asks))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    def _answered(self, key: Any, waiters: list[Waiter], answer: Any,
                  error: EnrichError | None) -> None:
        """One request's outcome: remembered (not a failure), and settled in every
        event that waited for it."""
        self.active -= 1
        if self.config.debug:
            log.info("rule %s answer: %s", self.name, answer if error is None else error)
        if self.tcp and answer:
            try:
                answer = parse_lines(answer)  # once, for every event that shares it
            except Exception as exc:  # a bug must not lose the events
                log.exception("rule %s: cannot read an answer", self.name)
                answer, error = None, EnrichError(f"{type(exc).__name__}: {exc}")
        if self.cache_ttl > 0:
            self.asked.pop(key, None)
            if error is None:
                self._remember(key, answer)
        for event, sent, finish in waiters:
            self._settle(event, sent, answer, error)
            finish()
        self._signal()

    async def _http(self, values: list[str], asks: list[_Ask]) -> None:
        """POST the values; each event's share of the answer (one item per value, in
        order) goes to it; a failure, or an answer of the wrong length, to all."""
        assert isinstance(self.client, CyberTraceHttpClient)
        error: EnrichError | None = None
        try:
            answer = await self.client.lookup(values)
        except EnrichError as exc:
            error = exc
        except Exception as exc:  # a bug must not lose the event
            log.exception("rule %s: lookup failed", self.name)
            error = EnrichError(f"{type(exc).__name__}: {exc}")
        else:
            items = len(answer) if isinstance(answer, list) else "no"
            if items != len(values):
                error = Unavailable(f"the answer has {items} items for {len(values)} objects")
        finally:
            self.posts -= 1
            self._signal()
        if error is not None:
            for ask in asks:
                ask.done(None, error)
            return
        at = 0
        for ask in asks:
            count = len(ask.key)
            ask.done(answer[at:at + count], None)
            at += count

    def _remember(self, key: Any, answer: Any) -> None:
        cache = self.cache
        cache.pop(key, None)
        cache[key] = (time.monotonic() + self.cache_ttl, answer)
        if len(cache) > self.cache_size:
            del cache[next(iter(cache))]  # the oldest answer

    def _settle(self, event: Event, sent: list[Sent], answer: Any,
                error: EnrichError | None) -> None:
        """Write the outcome into the event (never raises: a bug marks it unenriched)."""
        counters, prefix = self.counters, self.prefix
        status = event.get("TIStatus")
        if status is None:
            status = event["TIStatus"] = {}
        if error is not None:
            counters.add(prefix + "unenriched")
            counters.add(prefix + error.reason)
            status[self.name] = f"unenriched: {error.reason}: {error}"
            return
        if answer:
            try:
                if self.tcp:
                    entries = parsed_entries(self.name, answer, sent)
                else:
                    entries = http_entries(self.name, answer, sent)
            except Exception as exc:  # a bug must not lose the event
                log.exception("rule %s failed on an event", self.name)
                status[self.name] = f"unenriched: error: {exc}"
                counters.add(prefix + "errors")
                return
            if entries:
                counters[self.count_detections] += len(entries)
                event.setdefault("TI", []).extend(entries)
        counters[self.count_enriched] += 1
        status[self.name] = "enriched"

    async def apply(self, event: Event, sent: list[Sent]) -> None:
        """``submit`` for one caller that awaits the outcome."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def finish() -> None:
            if not future.done():
                future.set_result(None)
        self.submit(event, sent, finish)
        await future

    async def close(self) -> None:
        for task in [self._worker, *self._calls]:
            if task is not None:
                task.cancel()
        await self.client.close()


_SKIP = (dict, list, bool)


class _Ask:
    """One request on its way and the events waiting for its answer."""

    __slots__ = ("key", "rule", "waiters")

    def __init__(self, rule: EnrichmentRule, key: Any, waiter: Waiter) -> None:
        self.rule, self.key, self.waiters = rule, key, [waiter]

    def done(self, answer: Any, error: EnrichError | None) -> None:
        self.rule._answered(self.key, self.waiters, answer, error)
