"""Detections into the store, in batches, from a thread: the event loop never waits on disk.

    recorder = DetectionRecorder(store, stats, queue_size=100_000)
    recorder.start()
    recorder.record(rows)          # from the event loop: appends, never blocks
    recorder.stop(5.0)             # writes what is queued (for at most 5 s)

The queue is bounded: when the database cannot keep up (or is away), the
newest rows beyond the bound are dropped and counted (``detections_dropped``),
the service goes on, and the syslog output (with its spool) stays the
at-least-once record of every detection. A failed write is retried with the
same rows (their detection ids make a repeated insert harmless).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence

from trapline.service.stats import Stats
from trapline.store import Store
from trapline.store.records import DetectionInput

log = logging.getLogger("trapline.service")
BATCH = 2000
INTERVAL = 0.5
RETRY_PAUSE = 2.0


class DetectionRecorder:
    """A bounded queue of detections and the thread that writes them."""

    def __init__(self, store: Store, stats: Stats, *, queue_size: int = 100_000,
                 interval: float = INTERVAL) -> None:
        self.store = store
        self.stats = stats
        self.queue_size = queue_size
        self.interval = interval
        self._rows: deque[DetectionInput] = deque()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def record(self, rows: Sequence[DetectionInput]) -> None:
        """Queue ``rows`` (thread-safe, never blocks); rows beyond the bound are dropped."""
        room = self.queue_size - len(self._rows)
        if room < len(rows):
            self.stats.count("detections_dropped", len(rows) - max(room, 0))
            rows = rows[:max(room, 0)]
        self._rows.extend(rows)
        if len(self._rows) >= BATCH:
            self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="detections", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is queued, for at most ``timeout`` seconds, then stop."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._rows:
            self.stats.count("detections_dropped", len(self._rows))
            log.warning("%d detections not written to the store at stop", len(self._rows))
            self._rows.clear()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            while self._rows:
                batch = [self._rows.popleft() for _ in range(min(BATCH, len(self._rows)))]
                if not self._write(batch):
                    self._rows.extendleft(reversed(batch))
                    if self._stopping.is_set():
                        return
                    self._stopping.wait(RETRY_PAUSE)
                    break
            if self._stopping.is_set() and not self._rows:
                return

    def _write(self, batch: list[DetectionInput]) -> bool:
        try:
            self.store.detections.add(batch)
        except Exception as exc:  # the database is away or refuses: keep the rows, retry
            self.stats.count("detections_write_errors")
            if not self._failing:
                log.error("detections cannot be written to the store (kept, retrying): %s",
                          exc)
                self._failing = True
            return False
        if self._failing:
            log.info("detections are written to the store again")
            self._failing = False
        self.stats.count("detections_recorded", len(batch))
        return True
