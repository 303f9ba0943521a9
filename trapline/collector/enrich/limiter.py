"""A request-rate limit that holds in every one-second window, not only on average.

A token bucket (or aiolimiter's leaky bucket) of ``rate`` lets a full bucket go
at once and then refills, so some one-second window sees up to twice the rate.
This limiter keeps the start times of the last ``rate`` requests (a sliding
window log): a request may start only when the one ``rate`` places before it
is at least ``period`` old, so *any* window of ``period`` seconds holds at most
``rate`` starts. ``margin`` widens the window a little so jitter between here
and the service (a write that leaves a few milliseconds late) cannot make the
service see more than ``rate`` in its own windows.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque


class WindowLimiter:
    def __init__(self, rate: int, period: float = 1.0, margin: float = 0.02) -> None:
        if rate < 1:
            raise ValueError("rate must be at least 1")
        self.rate = rate
        self.window = period + margin
        self._starts: deque[float] = deque()
        self._lock = asyncio.Lock()
        self.waited = 0  # requests that had to wait (a counter)

    def _try(self, now: float) -> float:
        """Take a slot at ``now`` (0.0), or say how long to wait for one."""
        starts = self._starts
        if len(starts) < self.rate:
            starts.append(now)
            return 0.0
        wait = starts[0] + self.window - now
        if wait <= 0:
            starts.popleft()
            starts.append(now)
            return 0.0
        return wait

    def _take(self, now: float, count: int) -> int:
        """Take up to ``count`` slots at ``now``; how many were taken."""
        starts, rate, window = self._starts, self.rate, self.window
        taken = 0
        while taken < count:
            if len(starts) < rate:
                starts.append(now)
            elif starts[0] + window <= now:
                starts.popleft()
                starts.append(now)
            else:
                break
            taken += 1
        return taken

    async def take(self, count: int) -> int:
        """Take between 1 and ``count`` slots, waiting for the first one: a batch of
        requests passes with one call, and each still counts in every window."""
        if not self._lock.locked():
            taken = self._take(time.monotonic(), count)
            if taken:
                return taken
        self.waited += 1
        async with self._lock:
            while not (taken := self._take(time.monotonic(), count)):
                await asyncio.sleep(self._starts[0] + self.window - time.monotonic())
            return taken

    def take_now(self) -> bool:
        """Take one slot if one is free now and nobody waits (never waits itself)."""
        return not self._lock.locked() and self._take(time.monotonic(), 1) == 1

    def give_back(self) -> None:
        """Return the last slot taken (its request was not sent after all)."""
        if self._starts:
            self._starts.pop()

    async def acquire(self) -> None:
        if not self._lock.locked() and self._try(time.monotonic()) == 0.0:
            return
        self.waited += 1
        async with self._lock:  # waiters go in arrival order
            while (wait := self._try(time.monotonic())) > 0:
                await asyncio.sleep(wait)
