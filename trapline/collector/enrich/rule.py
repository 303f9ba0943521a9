"""One enrichment rule at work: filter, mapping, limits, cache, client, and the TI answer.

``plan(event)`` says which mapped values of an event this rule would look up
(none: the filter said no, or no mapped field holds a value); ``submit`` hands
them over with a callback, and the rule writes the answer into ``event["TI"]``
and the outcome into ``event["TIStatus"][rule]`` (``enriched``,
``unenriched: timeout: ...``, ``unenriched: unavailable: ...``) before calling
it back, exactly once. An event is never lost: a failure leaves it unenriched,
marked and counted.

No task per event: one worker per rule takes the waiting events in batches,
as many as the RPS limiter and ``queue_limit`` allow at once, and hands their
requests to the client (which writes each connection's share in one write).
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
from trapline.collector.enrich.answer import Sent, http_entries, tcp_entries
from trapline.collector.enrich.cybertrace import CyberTraceClient, request_line
from trapline.collector.enrich.cybertrace_http import CyberTraceHttpClient
from trapline.collector.enrich.errors import EnrichError
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

    def plan(self, event: Event) -> list[Sent]:
        if self.filter is not None and not self.filter(event):
            self.counters.add(self.prefix + "filtered")
            return []
        sent: list[Sent] = []
        for row in self.config.mapping:
            value = field_value(event, row.field)
            for item in value if isinstance(value, list) else (value,):
                if item is None or isinstance(item, _SKIP):
                    continue
                text = str(item).strip()
                if text and text != "-":
                    sent.append((row.field, row.type, text))
        if not sent:
            self.counters.add(self.prefix + "no_values")
        return sent

    def _key(self, sent: list[Sent]) -> Any:
        if self.tcp:
            return request_line(sent)
        return tuple(value for _, _, value in sent)

    def submit(self, event: Event, sent: list[Sent], finish: Finish) -> None:
        """Look the event up; ``finish()`` once its TI and TIStatus are written (at
        once on a cache hit, else when the answer, the timeout or a failure comes)."""
        key = self._key(sent)
        if self.cache_ttl > 0:
            cached = self.cache.get(key)
            if cached is not None:
                if cached[0] > time.monotonic():
                    self.counters.add(self.prefix + "cache_hits")
                    self._settle(event, sent, cached[1], None)
                    finish()
                    return
                del self.cache[key]
            asked = self.asked.get(key)
            if asked is not None:
                self.counters.add(self.prefix + "cache_hits")
                asked.append((event, sent, finish))
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
            while not waiting or self.active >= self.queue_limit:
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
            count = await self.limiter.take(min(len(waiting), self.queue_limit - self.active))
            for _ in range(count):
                key, waiter = waiting.popleft()
                if self.cache_ttl > 0:
                    asked = self.asked.get(key)
                    if asked is not None:  # the same request started while this one waited
                        self.counters.add(self.prefix + "cache_hits")
                        asked.append(waiter)
                        self.limiter.give_back()
                        continue
                self._start(key, waiter)

    def _start(self, key: Any, waiter: Waiter) -> None:
        waiters = [waiter]
        if self.cache_ttl > 0:
            self.asked[key] = waiters
        self.active += 1
        self.counters.add(self.prefix + "requests")
        debug = self.config.debug

        def done(answer: Any, error: EnrichError | None) -> None:
            self.active -= 1
            if self.cache_ttl > 0:
                self.asked.pop(key, None)
                if error is None:
                    self._remember(key, answer)
            if debug:
                log.info("rule %s answer: %s", self.name, answer if error is None else error)
            for event, sent, finish in waiters:
                self._settle(event, sent, answer, error)
                finish()
            self._signal()

        if self.tcp:
            assert isinstance(self.client, CyberTraceClient)
            if debug:
                log.info("rule %s request: %s", self.name, key.decode().rstrip())
            self.client.submit(key, done)
        else:
            if debug:
                log.info("rule %s request: %s", self.name, list(key))
            task = asyncio.get_running_loop().create_task(self._http(list(key), done))
            self._calls.add(task)
            task.add_done_callback(self._calls.discard)

    async def _http(self, values: list[str], done: Callable[[Any, EnrichError | None], None]) \
            -> None:
        assert isinstance(self.client, CyberTraceHttpClient)
        try:
            answer = await self.client.lookup(values)
        except EnrichError as exc:
            done(None, exc)
        except Exception as exc:  # a bug must not lose the event
            log.exception("rule %s: lookup failed", self.name)
            done(None, EnrichError(f"{type(exc).__name__}: {exc}"))
        else:
            done(answer, None)

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
        try:
            if self.tcp:
                entries = tcp_entries(self.name, answer, sent)
            else:
                entries = http_entries(self.name, answer, sent)
        except Exception as exc:  # a bug must not lose the event
            log.exception("rule %s failed on an event", self.name)
            status[self.name] = f"unenriched: error: {exc}"
            counters.add(prefix + "errors")
            return
        counters.add(prefix + "enriched")
        if entries:
            counters.add(prefix + "detections", len(entries))
            event.setdefault("TI", []).extend(entries)
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
