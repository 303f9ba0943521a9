"""One enrichment rule at work: filter, mapping, limits, client, and the TI answer.

``plan(event)`` says which mapped values of an event this rule would look up
(none: the filter said no, or no mapped field holds a value); ``apply`` sends
them (after the queue limit and the RPS limiter), and writes the answer into
``event["TI"]`` and the outcome into ``event["TIStatus"][rule]``:
``enriched``, ``unenriched: timeout: ...``, ``unenriched: unavailable: ...``.
An event is never lost: a failure leaves it unenriched, marked and counted.
"""

from __future__ import annotations

import asyncio
import logging
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


class EnrichmentRule:
    def __init__(self, config: RuleConfig, counters: Counters) -> None:
        self.config = config
        self.name = config.name
        self.counters = counters
        self.prefix = f"rule_{config.name}_"
        self.filter = parse_filter(config.filter) if config.filter.strip() else None
        self.limiter = WindowLimiter(config.rps)
        self.slots = asyncio.Semaphore(config.queue_limit)
        host, _, port = config.url.rpartition(":")
        self.client: CyberTraceClient | CyberTraceHttpClient
        if config.kind == "cybertrace":
            self.client = CyberTraceClient(host, int(port), config.connections, config.timeout)
        else:
            self.client = CyberTraceHttpClient(
                config.url, config.tenant, rule_credentials(config), config.connections,
                config.timeout, tls=config.tls, ca_file=config.ca_file, verify=config.verify)

    def plan(self, event: Event) -> list[Sent]:
        if self.filter is not None and not self.filter(event):
            self.counters.add(self.prefix + "filtered")
            return []
        sent: list[Sent] = []
        for row in self.config.mapping:
            value = field_value(event, row.field)
            for item in value if isinstance(value, list) else (value,):
                if item is None or isinstance(item, dict | list | bool):
                    continue
                text = str(item).strip()
                if text and text != "-":
                    sent.append((row.field, row.type, text))
        if not sent:
            self.counters.add(self.prefix + "no_values")
        return sent

    async def apply(self, event: Event, sent: list[Sent]) -> None:
        counters = self.counters
        async with self.slots:
            await self.limiter.acquire()
            counters.add(self.prefix + "requests")
            try:
                if isinstance(self.client, CyberTraceClient):
                    line = request_line(sent)
                    if self.config.debug:
                        log.info("rule %s request: %s", self.name, line.decode().rstrip())
                    lines = await self.client.lookup(line)
                    if self.config.debug:
                        log.info("rule %s answer: %s", self.name, lines)
                    entries = tcp_entries(self.name, lines, sent)
                else:
                    values = [value for _, _, value in sent]
                    if self.config.debug:
                        log.info("rule %s request: %s", self.name, values)
                    answer = await self.client.lookup(values)
                    if self.config.debug:
                        log.info("rule %s answer: %s", self.name, answer)
                    entries = http_entries(self.name, answer, sent)
            except EnrichError as exc:
                counters.add(self.prefix + "unenriched")
                counters.add(self.prefix + exc.reason)
                event.setdefault("TIStatus", {})[self.name] = f"unenriched: {exc.reason}: {exc}"
                if self.config.debug:
                    log.info("rule %s failed: %s", self.name, exc)
                return
        counters.add(self.prefix + "enriched")
        if entries:
            counters.add(self.prefix + "detections", len(entries))
            event.setdefault("TI", []).extend(entries)
        event.setdefault("TIStatus", {})[self.name] = "enriched"

    async def close(self) -> None:
        await self.client.close()
