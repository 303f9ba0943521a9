"""``GET /metrics``: Prometheus text from a per-app registry.

Exposes this process's ``Stats`` counters (``trapline_<name>_total``), the
snapshot version, the HTTP request counter and latency histogram by route and
status, and the process collector (CPU, memory, open files). Every series
carries ``worker``: with several workers sharing the port, each scrape is
answered by one of them (docs/http-api.md).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from trapline.errors import TraplineError
from trapline.service.http.context import AppContext

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_UNSAFE = re.compile(r"[^a-zA-Z0-9_]")


class StatsCollector(Collector):
    """The ``Stats`` counters of the process, read at each scrape."""

    def __init__(self, context: AppContext) -> None:
        self.context = context
        self.worker = str(context.worker)

    def collect(self) -> Iterator[Metric]:
        context = self.context
        for name, value in sorted(context.stats.all_counters().items()):
            family = CounterMetricFamily(f"trapline_{_UNSAFE.sub('_', name)}",
                                         f"trapline counter {name} (this process)",
                                         labels=["worker"])
            family.add_metric([self.worker], value)
            yield family
        uptime = GaugeMetricFamily("trapline_uptime_seconds", "Seconds since the app started",
                                   labels=["worker"])
        uptime.add_metric([self.worker], time.monotonic() - context.started)
        yield uptime
        if context.snapshot_version is not None:
            try:
                version = context.snapshot_version()
            except TraplineError:
                return
            gauge = GaugeMetricFamily("trapline_snapshot_version",
                                      "Version of the snapshot in force", labels=["worker"])
            gauge.add_metric([self.worker], version)
            yield gauge


class HttpMetrics:
    """Requests by route and status, and their latency; one registry per app."""

    def __init__(self, context: AppContext) -> None:
        self.registry = CollectorRegistry()
        self.worker = str(context.worker)
        self.requests = Counter("trapline_http_requests", "HTTP requests answered",
                                ["worker", "route", "status"], registry=self.registry)
        self.latency = Histogram("trapline_http_request_duration_seconds",
                                 "HTTP request latency, from the request line to the answer",
                                 ["worker", "route"], buckets=BUCKETS, registry=self.registry)
        self.registry.register(StatsCollector(context))
        ProcessCollector(registry=self.registry)
        self._children: dict[tuple[str, int], tuple[Counter, Histogram]] = {}

    def observe(self, route: str, status: int, seconds: float) -> None:
        """Count one answered request (label lookups are cached: this is per request)."""
        key = (route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(self.worker, route, str(status)),
                self.latency.labels(self.worker, route))
        children[0].inc()
        children[1].observe(seconds)

    async def endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
