"""Detection statistics and error counters of one worker, kept in memory.

Detections are counted per category, per feed and per source, in one-minute
buckets (the last MINUTES kept); every error path has a named counter. The
store (issue 5) and ``/metrics`` read ``snapshot()``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

MINUTES = 60


class Stats:
    """Counters of one process; cheap enough to call once per detection."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.counters: Counter[str] = Counter()
        self.minutes: dict[int, Counter[tuple[str, str]]] = {}
        self._sources: list[tuple[str, Callable[[], Mapping[str, int]]]] = []

    def include(self, prefix: str, source: Callable[[], Mapping[str, int]]) -> None:
        """Report another component's counters (read when asked) as ``prefix + name``."""
        self._sources.append((prefix, source))

    def all_counters(self) -> dict[str, int]:
        """This process's counters and those of every included component."""
        out = dict(self.counters)
        for prefix, source in self._sources:
            for name, value in source().items():
                out[prefix + name] = value
        return out

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to a named counter (events, observables, errors...)."""
        self.counters[name] += n

    def detection(self, category: str, feed: str, source: str) -> None:
        """Count one detection in the current minute, per category, feed and source."""
        minute = int(self.clock() // 60)
        bucket = self.minutes.get(minute)
        if bucket is None:
            bucket = self.minutes[minute] = Counter()
            for old in [m for m in self.minutes if m <= minute - MINUTES]:
                del self.minutes[old]
        bucket["category", category] += 1
        bucket["feed", feed] += 1
        bucket["source", source] += 1
        self.counters["detections"] += 1

    def snapshot(self) -> dict[str, Any]:
        """Counters and per-minute detections as plain data."""
        return {
            "counters": self.all_counters(),
            "minutes": {minute * 60: {f"{dim}:{key}": n for (dim, key), n in bucket.items()}
                        for minute, bucket in sorted(self.minutes.items())},
        }
