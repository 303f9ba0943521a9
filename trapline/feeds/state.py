"""Feed state: what the updater knows of each feed, kept for the API, the UI and restarts.

Stored as ``DATA_DIR/feeds/state.json``, replaced atomically on every change.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import msgspec


class FeedState(msgspec.Struct, kw_only=True):
    """One feed's history: the last attempt, the last success, and what is in force."""

    name: str
    last_attempt: float | None = None
    last_success: float | None = None
    last_error: str = ""
    last_error_at: float | None = None
    records: int = 0                   # records of this feed in the snapshot in force
    counts: dict[str, int] = msgspec.field(default_factory=dict)
    rejected: int = 0
    skipped: int = 0
    duration: float = 0.0              # seconds the last attempt took
    format: str = ""
    snapshot: int = 0                  # the snapshot version the last success published
    available: bool | None = None      # the source answered at the last attempt
    outdated: bool = False
    source_state: dict[str, str] = msgspec.field(default_factory=dict)  # e.g. a TAXII cursor


class FeedStates:
    """The state file of one data directory; thread-safe, written atomically."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "feeds" / "state.json"
        self._lock = threading.Lock()
        self._states: dict[str, FeedState] = self._read()

    def _read(self) -> dict[str, FeedState]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            states = msgspec.json.decode(raw, type=list[FeedState])
        except msgspec.DecodeError:
            return {}  # a damaged state file costs the history, never the service
        return {s.name: s for s in states}

    def get(self, name: str) -> FeedState:
        """The state of a feed (a fresh one for a feed never seen)."""
        with self._lock:
            state = self._states.get(name)
            return msgspec.structs.replace(state) if state else FeedState(name=name)

    def all(self) -> list[FeedState]:
        with self._lock:
            return [msgspec.structs.replace(s) for s in self._states.values()]

    def put(self, state: FeedState) -> None:
        """Record a feed's new state and write the file (a failed write is logged, and
        the state kept in memory: feed history must never stop an update)."""
        with self._lock:
            self._states[state.name] = state
            try:
                self._write()
            except OSError as exc:
                logging.getLogger("trapline.feeds").error("cannot write %s: %s", self.path, exc)

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as handle:
            handle.write(msgspec.json.encode(list(self._states.values())))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
