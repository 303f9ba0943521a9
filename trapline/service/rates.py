"""Service-wide rates for the dashboard: every worker publishes its own, the pages sum them.

Each worker keeps samples of its ``events`` and lookup (``observables`` +
``http_observables``) counters once a second and writes its rates over the
last ``WINDOW`` seconds to ``DATA_DIR/run/worker-<n>.json`` (written to a
temporary name and renamed: a reader never sees half a file). ``service_rates``
sums the files written in the last ``FRESH`` seconds, so a worker that stopped
(or a file left by an earlier run) drops out on its own.

    {"worker": 1, "pid": 4242, "time": 1764440000.0, "events_per_s": 812.0, "lookups_per_s": 2873.5}
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import msgspec

log = logging.getLogger("trapline.service")

WINDOW = 10.0  # seconds the published rates average over
FRESH = 5.0  # a worker's file older than this is left out
FOLDER = "run"


@dataclass(frozen=True)
class Rates:
    events_per_s: float
    lookups_per_s: float
    workers: int  # how many workers' rates are in the sum


def _totals(counters: Mapping[str, int]) -> tuple[int, int]:
    lookups = counters.get("observables", 0) + counters.get("http_observables", 0)
    return counters.get("events", 0), lookups


class RatePublisher:
    """One worker's rates, sampled and written every ``interval`` seconds."""

    def __init__(self, data_dir: Path, worker: int,
                 counters: Callable[[], Mapping[str, int]], interval: float = 1.0) -> None:
        self.folder = Path(data_dir) / FOLDER
        self.path = self.folder / f"worker-{worker}.json"
        self.worker = worker
        self.counters = counters
        self.interval = interval
        self.samples: deque[tuple[float, int, int]] = deque()

    def sample(self, now: float) -> tuple[float, float]:
        """Record the counters at ``now`` (monotonic); the rates over the kept window."""
        events, lookups = _totals(self.counters())
        samples = self.samples
        samples.append((now, events, lookups))
        while len(samples) > 2 and now - samples[1][0] >= WINDOW:
            samples.popleft()
        first = samples[0]
        span = now - first[0]
        if span <= 0:
            return 0.0, 0.0
        return (events - first[1]) / span, (lookups - first[2]) / span

    def publish(self) -> None:
        events, lookups = self.sample(time.monotonic())
        body = msgspec.json.encode({"worker": self.worker, "pid": os.getpid(),
                                    "time": time.time(), "events_per_s": round(events, 1),
                                    "lookups_per_s": round(lookups, 1)})
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_bytes(body)
        os.replace(temporary, self.path)

    async def run(self) -> None:
        """Publish every ``interval`` seconds until cancelled; a failed write is logged
        once and tried again (the dashboard then shows fewer workers)."""
        failing = False
        while True:
            try:
                self.publish()
                failing = False
            except OSError as exc:
                if not failing:
                    log.warning("cannot write the worker's rates to %s: %s", self.path, exc)
                failing = True
            await asyncio.sleep(self.interval)

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()


def service_rates(data_dir: Path, now: float | None = None) -> Rates | None:
    """The sum of the rates every running worker published; None when none did."""
    now = time.time() if now is None else now
    events = lookups = 0.0
    workers = 0
    for path in sorted((Path(data_dir) / FOLDER).glob("worker-*.json")):
        try:
            data = msgspec.json.decode(path.read_bytes())
            if now - float(data["time"]) > FRESH:
                continue
            events += float(data["events_per_s"])
            lookups += float(data["lookups_per_s"])
        except (OSError, msgspec.DecodeError, KeyError, TypeError, ValueError):
            continue  # being replaced, or not ours: left out
        workers += 1
    return Rates(events, lookups, workers) if workers else None
