"""Feed actions asked for through the API: update now, enable, disable; and feed status.

    actions = FeedActions(settings, store, alerts=sink)
    await actions.update("Demo_IP_Reputation.json")      # FeedBusy if one is running
    await actions.set_enabled(actor, "Demo_IP_Reputation.json", False)
    await actions.wait()                                  # tests, shutdown

The work runs in a thread of the worker that was asked: ``FeedUpdater`` takes
the data directory's flock, so an update started here never overlaps the
supervisor's scheduler or another worker's (it waits for the lock). Whether
an update is running anywhere is read from the same lock, without taking it.

A feed is enabled when the configuration says so and the store's flag
(``store.feeds.set_enabled``) does not say otherwise; ``make_updater`` hands
the updater that flag, so the scheduler honours it too. Disabling a feed
rebuilds the snapshot without it at once; enabling it rebuilds with its kept
records, or updates it when it has none yet.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
from collections.abc import Sequence
from pathlib import Path

import msgspec

from trapline.alerts import Alert, AlertSink, LogAlerts
from trapline.config import Settings
from trapline.feeds.config import FeedConfig, redact_url
from trapline.feeds.state import FeedStates
from trapline.feeds.updater import FeedUpdater, UpdateResult, feed_folder
from trapline.store import Actor, FeedStatus, Store

log = logging.getLogger("trapline.service")

__all__ = ["FeedActions", "FeedBusy", "FeedView", "make_updater", "store_flag"]


class FeedBusy(Exception):
    """An update is running already (here or in another process), or the feed is off."""


class FeedView(msgspec.Struct, kw_only=True):
    """A configured feed as the API shows it: configuration, state and switches."""

    name: str
    category: str
    format: str
    source: str                    # with any user:password@ replaced
    schedule: int                  # minutes between updates; 0 = never
    allow: bool                    # an allow list: suppresses, never detects
    enabled: bool                  # in force: configured and not switched off
    configured_enabled: bool       # what the configuration file says
    updating: bool                 # an update (or rebuild) runs now, anywhere on this node
    last_attempt: float | None = None
    last_success: float | None = None
    last_error: str = ""
    last_error_at: float | None = None
    records: int = 0
    counts: dict[str, int] = msgspec.field(default_factory=dict)
    rejected: int = 0
    snapshot: int = 0              # the snapshot version its last success published
    available: bool | None = None
    outdated: bool = False
    duration: float = 0.0


def store_flag(store: Store, name: str) -> bool:
    """The store's switch for a feed (True when never set)."""
    return store.feeds.get(name).enabled


def store_updater(data_dir: Path, feeds: Sequence[FeedConfig], sink: AlertSink,
                  store: Store) -> FeedUpdater:
    """A feed updater that honours the store's switches and records its outcomes there."""

    def keep(result: UpdateResult) -> None:
        store.feeds.record(result.name, ok=result.ok, error=result.error,
                           records=result.records if result.ok else None,
                           details={"duration": round(result.duration, 3),
                                    "snapshot": result.snapshot,
                                    "rejected": result.rejected, "counts": result.counts})

    return FeedUpdater(data_dir, feeds, sink, enabled=lambda name: store_flag(store, name),
                       on_result=keep)


def make_updater(settings: Settings, store: Store, sink: AlertSink) -> FeedUpdater:
    """The feed updater of ``settings`` that honours the store's enabled flags."""
    return store_updater(settings.data_dir, settings.feeds_or_demo, sink, store)


class _ThreadAlerts:
    """Hands alerts raised in a worker thread to the sink on the event loop's thread."""

    def __init__(self, sink: AlertSink, loop: asyncio.AbstractEventLoop) -> None:
        self.sink = sink
        self.loop = loop

    def alert(self, alert: Alert) -> None:
        try:
            self.loop.call_soon_threadsafe(self.sink.alert, alert)
        except RuntimeError:  # the loop closed: the log keeps it
            LogAlerts().alert(alert)


class FeedActions:
    """Feed updates and switches of one worker; the work runs in background threads."""

    def __init__(self, settings: Settings, store: Store, alerts: AlertSink | None = None,
                 *, feeds: Sequence[FeedConfig] | None = None) -> None:
        self.data_dir = Path(settings.data_dir)
        self.store = store
        self.alerts = alerts
        self.feeds = {f.name: f for f in (feeds if feeds is not None else
                                          settings.feeds_or_demo)}
        self._tasks: set[asyncio.Task[None]] = set()
        self._updating: set[str] = set()

    # -- status -------------------------------------------------------------------------

    def status(self, names: Sequence[str] | None = None) -> list[FeedView]:
        """The configured feeds (or the named ones) with their state; blocking."""
        states = FeedStates(self.data_dir)
        flags = {s.name: s for s in self.store.feeds.all()}
        busy = self.busy()
        views = []
        for name in names if names is not None else list(self.feeds):
            feed = self.feeds[name]
            kept = states.get(name)
            stored = flags.get(name, FeedStatus(name=name))
            views.append(FeedView(
                name=name, category=feed.category, format=feed.format,
                source=redact_url(feed.source), schedule=feed.schedule, allow=feed.allow,
                enabled=feed.enabled and stored.enabled, configured_enabled=feed.enabled,
                updating=busy, last_attempt=_latest(kept.last_attempt, stored.last_attempt),
                last_success=_latest(kept.last_success, stored.last_success),
                last_error=kept.last_error or stored.last_error,
                last_error_at=_latest(kept.last_error_at, stored.last_error_at),
                records=kept.records or stored.records, counts=kept.counts,
                rejected=kept.rejected, snapshot=kept.snapshot, available=kept.available,
                outdated=kept.outdated, duration=kept.duration))
        return views

    def busy(self) -> bool:
        """True while an update or rebuild runs in this worker or holds the data
        directory's feed lock in any process."""
        if any(not task.done() for task in self._tasks):
            return True
        lock_path = self.data_dir / "feeds" / ".lock"
        try:
            handle = open(lock_path, "a")  # noqa: SIM115 - closed below, whatever happens
        except OSError:
            return False
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return False
        else:
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False
        finally:
            handle.close()

    # -- actions ------------------------------------------------------------------------

    async def update(self, name: str) -> None:
        """Start updating one feed in the background; KeyError for an unknown feed,
        FeedBusy when an update runs already or the feed is switched off."""
        feed = self.feeds[name]
        enabled = feed.enabled and await asyncio.to_thread(store_flag, self.store, name)
        if not enabled:
            raise FeedBusy(f"feed {name!r} is disabled: enable it first")
        if self._updating or await asyncio.to_thread(self.busy):
            raise FeedBusy("a feed update is running already; try again when it ends")
        self._updating.add(name)
        self._start(self._update, name, label=f"update {name}")

    async def set_enabled(self, actor: Actor, name: str, enabled: bool) -> FeedStatus:
        """Switch a feed on or off in the store, then rebuild the snapshot in the
        background (with an update when a feed switched on has no records kept)."""
        if name not in self.feeds:
            raise KeyError(name)
        status = await asyncio.to_thread(self.store.feeds.set_enabled, actor, name, enabled)
        kept = (feed_folder(self.data_dir, name) / "shard").is_dir()
        if enabled and not kept and self.feeds[name].enabled:
            self._start(self._update, name, label=f"update {name}")
        else:
            self._start(self._rebuild, name, label=f"rebuild without/with {name}")
        return status

    async def wait(self) -> None:
        """Wait for every background job started here (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- the jobs, in threads -----------------------------------------------------------

    def _start(self, job: object, name: str, *, label: str) -> None:
        sink = _ThreadAlerts(self.alerts, asyncio.get_running_loop()) if self.alerts \
            else LogAlerts()

        async def run() -> None:
            try:
                await asyncio.to_thread(job, name, sink)  # type: ignore[arg-type]
            except Exception:  # a job must never take the worker down
                log.exception("feed job %s failed", label)
            finally:
                self._updating.discard(name)

        task = asyncio.get_running_loop().create_task(run(), name=f"feeds: {label}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _updater(self, sink: AlertSink) -> FeedUpdater:
        return store_updater(self.data_dir, list(self.feeds.values()), sink, self.store)

    def _update(self, name: str, sink: AlertSink) -> None:
        for result in self._updater(sink).update([name]):
            log.info("feed %s updated through the API: %s", result.name,
                     "ok" if result.ok else result.error)

    def _rebuild(self, name: str, sink: AlertSink) -> None:
        version = self._updater(sink).rebuild()
        log.info("snapshot %d published after feed %s was switched", version, name)


def _latest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else max(a, b)
