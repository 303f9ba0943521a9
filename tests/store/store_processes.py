"""Code that runs in other processes for the concurrency and durability tests."""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

from trapline.store import INTERNAL_TI, Actor, IndicatorInput, open_store


def write_indicators(target: str, worker: int, count: int, ready: Any = None,
                     start: Any = None) -> None:
    """Add ``count`` InternalTI indicators one by one; with events (as a multiprocessing
    target), set ``ready`` once the store is open and wait for ``start``."""
    actor = Actor(name=f"worker{worker}")
    with open_store(target) as store:
        if ready is not None:
            ready.set()
            start.wait()
        for n in range(count):
            store.indicators.put(actor, INTERNAL_TI, [IndicatorInput(value=f"w{worker}-{n}")])


def fork_server() -> None:
    """Fork a writer for each ``TARGET OUTFILE PREFIX`` line on stdin and print its pid.

    Forking from a process that has imported everything (and closed its connections)
    makes each writer start in milliseconds. The writer's stdout is OUTFILE; it prints
    ``ok VALUE`` after each add has returned and never exits by itself, so the pid stays
    its own until it is killed.
    """
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # killed writers are reaped at once
    warm: set[str] = set()
    for line in sys.stdin:
        target, outfile, prefix = line.split()
        if target not in warm:  # load what a first connection loads, once, then close it
            open_store(target).close()
            warm.add(target)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            os.dup2(os.open(outfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), 1)
            _write_until_killed(target, prefix)
        print(f"pid {pid}", flush=True)


def _write_until_killed(target: str, prefix: str) -> None:
    try:
        store = open_store(target)
        for n in range(100_000):
            value = f"{prefix}-{n}"
            store.indicators.put(Actor(name="writer"), INTERNAL_TI, [IndicatorInput(value=value)])
            print(f"ok {value}", flush=True)
    except BaseException as exc:
        print(f"error {exc!r}", flush=True)
    while True:
        time.sleep(60)


if __name__ == "__main__":
    fork_server()
