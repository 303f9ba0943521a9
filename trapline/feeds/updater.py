"""The feed updater: fetch, parse, check, and swap a new snapshot in atomically.

An update of some feeds fetches and parses each into a new shard (trapline.index.
runs), merges it with the kept shards of every other enabled feed, writes the
result as the next snapshot version, checks each updated feed's verification
indicators against it, and only then keeps the new shards and makes the version
current. Until that last step the previous snapshot answers every lookup.

A feed's update fails, and its previous records stay in force, on a fetch or
parse error, an empty result, a failed verification, or fewer than half the
records in force (unless ``allow_shrink``). Every outcome raises one alert.

Folder layout: ``DATA_DIR/feeds/<feed>/shard/`` (the feed's last good shard;
a TAXII feed also keeps ``taxii-bundle.json``, the objects its polls gathered),
``DATA_DIR/feeds/state.json`` (feed state), ``DATA_DIR/snapshots/`` (the catalog).
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from trapline import alerts
from trapline.alerts import Alert, AlertSink
from trapline.errors import FeedFetchError, TraplineError
from trapline.feeds.config import FeedConfig, folder_name, redact_url
from trapline.feeds.formats import read_feed
from trapline.feeds.report import FeedReport
from trapline.feeds.sources import fetch
from trapline.feeds.state import FeedState, FeedStates
from trapline.index import SnapshotBuilder, SnapshotCatalog
from trapline.index.records import IndicatorRecord
from trapline.index.runs import RunMerge, ShardRun, load_shard, write_shard
from trapline.index.snapshot import Snapshot

log = logging.getLogger("trapline.feeds")
Progress = Callable[[str, int], None]  # (feed name, records read so far)
PROGRESS_EVERY = 10_000
OUTDATED_MIN_SECONDS = 24 * 3600
TAXII_BUNDLE = "taxii-bundle.json"  # a TAXII feed's objects so far, kept for incremental polls


class UpdateFailed(TraplineError):
    """A feed's new content was refused; the previous content stays in force."""


@dataclass
class UpdateResult:
    """The outcome of one feed's update attempt."""

    name: str
    ok: bool = False
    records: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    reject_samples: list[str] = field(default_factory=list)
    report: FeedReport = field(default_factory=FeedReport)
    error: str = ""
    duration: float = 0.0
    snapshot: int = 0
    shard: ShardRun | None = None
    source_state: dict[str, str] = field(default_factory=dict)  # kept only on success


def feed_folder(data_dir: Path, name: str) -> Path:
    """The folder of one feed's kept shard and scratch files."""
    return Path(data_dir) / "feeds" / folder_name(name)


class FeedUpdater:
    """Updates the configured feeds of one data directory; one update at a time."""

    def __init__(self, data_dir: Path, feeds: Sequence[FeedConfig], sink: AlertSink, *,
                 clock: Callable[[], float] = time.time,
                 enabled: Callable[[str], bool] | None = None,
                 on_result: Callable[[UpdateResult], None] | None = None) -> None:
        """``on_result``: told every update attempt's outcome (the store keeps them too)."""
        self.data_dir = Path(data_dir)
        self.on_result = on_result
        self.feeds = {feed.name: feed for feed in feeds}
        self.sink = sink
        self.clock = clock
        # A run-time switch over the configured ``enabled`` (the store's feed flag, set
        # through the API); asked at every decision, so a change applies at the next one.
        self.enabled_hook = enabled
        self.catalog = SnapshotCatalog(self.data_dir)
        self.states = FeedStates(self.data_dir)

    # -- what to update ------------------------------------------------------------------

    def is_enabled(self, feed: FeedConfig) -> bool:
        """Enabled in the configuration and, with an ``enabled`` hook, by the hook too
        (a hook that fails leaves the configuration's answer)."""
        if not feed.enabled:
            return False
        if self.enabled_hook is None:
            return True
        try:
            return self.enabled_hook(feed.name)
        except Exception as exc:  # the store is away: the configuration decides
            log.error("feed %s: cannot read whether it is enabled: %s", feed.name, exc)
            return True

    def due(self, now: float | None = None) -> list[str]:
        """Enabled feeds whose schedule has come (never updated ones at once)."""
        now = self.clock() if now is None else now
        names = []
        for feed in self.feeds.values():
            state = self.states.get(feed.name)
            if not self.is_enabled(feed):
                continue
            if state.last_attempt is None or (
                    feed.schedule and now - state.last_attempt >= feed.schedule * 60):
                names.append(feed.name)
        return names

    def check_outdated(self, now: float | None = None) -> list[str]:
        """Raise OutdatedFeed once for each feed without a success for too long."""
        now = self.clock() if now is None else now
        outdated = []
        for feed in self.feeds.values():
            state = self.states.get(feed.name)
            if not self.is_enabled(feed) or not feed.schedule or state.last_success is None:
                continue
            limit = max(3 * feed.schedule * 60, OUTDATED_MIN_SECONDS)
            if now - state.last_success > limit and not state.outdated:
                state.outdated = True
                self.states.put(state)
                self._alert(alerts.OUTDATED_FEED, feed=feed.name,
                            last_success=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                       time.gmtime(state.last_success)))
                outdated.append(feed.name)
        return outdated

    # -- updating ------------------------------------------------------------------------

    def update(self, names: Iterable[str] | None = None, *,
               progress: Progress | None = None) -> list[UpdateResult]:
        """Update the named feeds (default: every enabled one) and publish one snapshot."""
        wanted = list(names) if names is not None else [
            f.name for f in self.feeds.values() if self.is_enabled(f)]
        unknown = [n for n in wanted if n not in self.feeds]
        if unknown:
            raise UpdateFailed(f"no feed named {', '.join(unknown)}")
        with self._exclusive():
            results = [self._prepare(self.feeds[name], progress) for name in wanted]
            self._publish([r for r in results if r.ok])
            for result in results:
                self._record(result)
                if self.on_result is not None:
                    try:
                        self.on_result(result)
                    except Exception:  # a listener's failure must not undo an update
                        log.exception("feed %s: recording the outcome failed", result.name)
        return results

    def run_due(self, *, progress: Progress | None = None) -> list[UpdateResult]:
        """One scheduler tick: update the feeds whose schedule has come, then raise
        OutdatedFeed for feeds without a success for too long. ``trapline serve`` calls
        it every minute; ``trapline feeds update --due`` from cron does the same."""
        names = self.due()
        results = self.update(names, progress=progress) if names else []
        self.check_outdated()
        return results

    def rebuild(self) -> int:
        """Publish a snapshot of the kept shards of the enabled feeds (after a config change)."""
        with self._exclusive():
            version = self.catalog.publish(RunMerge(self._kept_shards(exclude=())))
            return version

    def _prepare(self, feed: FeedConfig, progress: Progress | None) -> UpdateResult:
        """Fetch and parse one feed into a new shard beside its kept one."""
        result = UpdateResult(feed.name)
        started = time.monotonic()
        folder = feed_folder(self.data_dir, feed.name)
        work = folder / "work"
        state = self.states.get(feed.name)
        state.last_attempt = self.clock()
        try:
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            path = self._fetch(feed, work, result, state)
            builder = parse_into_builder(feed, path, result, progress)
            self._check_size(feed, builder, state, result)
            if feed.format == "taxii":  # the next poll adds to this bundle
                path.replace(folder / (TAXII_BUNDLE + ".new"))
            shutil.rmtree(folder / "shard.new", ignore_errors=True)
            result.shard = write_shard(builder, folder / "shard.new")
            del builder
            result.ok = True
        except TraplineError as exc:
            result.error = str(exc)
        except OSError as exc:  # the data directory: disk full, permissions
            result.error = f"cannot write the feed's shard: {exc}"
        except Exception as exc:  # a bug must cost this feed's update, never the service
            log.exception("feed %s: unexpected error while updating", feed.name)
            result.error = f"internal error: {type(exc).__name__}: {exc}"
        finally:
            shutil.rmtree(work, ignore_errors=True)
            result.duration = time.monotonic() - started
        state.format = result.report.notes.get("format", state.format)
        self.states.put(state)
        return result

    def _fetch(self, feed: FeedConfig, work: Path, result: UpdateResult,
               state: FeedState) -> Path:
        result.source_state = dict(state.source_state)
        kept_bundle = feed_folder(self.data_dir, feed.name) / TAXII_BUNDLE
        try:
            path = fetch(feed, work, result.report, state=result.source_state,
                         previous=kept_bundle if kept_bundle.is_file() else None)
        except FeedFetchError:
            if state.available is not False:
                self._alert(alerts.FEED_BECAME_UNAVAILABLE, feed=feed.name,
                            source=redact_url(feed.source))
            state.available = False
            raise
        if state.available is False:
            self._alert(alerts.FEED_BECAME_AVAILABLE, feed=feed.name,
                        source=redact_url(feed.source))
        state.available = True
        return path

    @staticmethod
    def _check_size(feed: FeedConfig, builder: SnapshotBuilder, state: FeedState,
                    result: UpdateResult) -> None:
        count = len(builder)
        if count == 0:
            detail = f" ({builder.rejected} values rejected)" if builder.rejected else ""
            skipped = result.report.skipped_total
            detail += f" ({skipped} items skipped)" if skipped else ""
            raise UpdateFailed(f"the feed holds no indicators{detail}")
        if state.records and count < state.records / 2 and not feed.allow_shrink:
            raise UpdateFailed(f"{count} records, under half of the {state.records} in force "
                               "(set allow_shrink = true to accept)")

    def _publish(self, ready: list[UpdateResult]) -> None:
        """Merge, write, verify, keep the new shards and swap the snapshot in."""
        while ready:
            names = {r.name for r in ready}
            shards = self._kept_shards(exclude=names) + [r.shard for r in ready if r.shard]
            try:
                version = self.catalog.prepare(RunMerge(shards))
            except (TraplineError, OSError) as exc:
                for result in ready:
                    result.ok, result.error = False, f"cannot write the snapshot: {exc}"
                return
            snapshot = self.catalog.open_version(version)
            failed = [r for r in ready if not self._verified(snapshot, r)]
            if failed:
                self.catalog.discard(version)
                ready = [r for r in ready if r.ok]
                continue
            try:
                for result in ready:
                    self._keep_shard(result)
                    result.snapshot = version
                self.catalog.activate(version)
            except OSError as exc:  # kept shards are verified: a later merge may use them
                self.catalog.discard(version)
                for result in ready:
                    result.ok, result.error = False, f"cannot swap the snapshot in: {exc}"
            return

    def _verified(self, snapshot: Snapshot, result: UpdateResult) -> bool:
        feed = self.feeds[result.name]
        missing = []
        for value in feed.verify:
            verdict = snapshot.lookup(value)
            found = verdict.allowed_by if feed.allow else verdict.matches + verdict.suppressed
            if not any(match.feed == feed.name for match in found):
                missing.append(value)
        if missing:
            result.ok = False
            result.error = "verification failed: " + ", ".join(missing) + " did not match"
        return not missing

    def _keep_shard(self, result: UpdateResult) -> None:
        folder = feed_folder(self.data_dir, result.name)
        old = folder / "shard.old"
        shutil.rmtree(old, ignore_errors=True)
        if (folder / "shard").exists():
            (folder / "shard").rename(old)
        (folder / "shard.new").rename(folder / "shard")
        shutil.rmtree(old, ignore_errors=True)
        bundle = folder / (TAXII_BUNDLE + ".new")
        if bundle.is_file():
            bundle.replace(folder / TAXII_BUNDLE)

    def _kept_shards(self, exclude: Iterable[str]) -> list[ShardRun]:
        shards = []
        skip = set(exclude)
        for feed in self.feeds.values():
            if feed.name in skip or not self.is_enabled(feed):
                continue
            folder = feed_folder(self.data_dir, feed.name) / "shard"
            if not folder.is_dir():
                continue
            try:
                shards.append(load_shard(folder))
            except TraplineError as exc:
                log.error("feed %s: kept shard unreadable, left out: %s", feed.name, exc)
        return shards

    def _record(self, result: UpdateResult) -> None:
        """Write the outcome into the feed's state and raise its alert."""
        state = self.states.get(result.name)
        state.duration = result.duration
        if result.ok:
            state.last_success = state.last_attempt
            state.records, state.counts = result.records, result.counts
            state.rejected, state.skipped = result.rejected, result.report.skipped_total
            state.snapshot, state.outdated = result.snapshot, False
            state.source_state = result.source_state
            self._alert(alerts.UPDATED_FEED, feed=result.name, records=str(result.records))
        else:
            state.last_error, state.last_error_at = result.error, state.last_attempt
            log.warning("feed %s: update failed: %s", result.name, result.error)
            self._alert(alerts.FAILED_TO_UPDATE_FEED, feed=result.name, reason=result.error)
            folder = feed_folder(self.data_dir, result.name)
            shutil.rmtree(folder / "shard.new", ignore_errors=True)
            (folder / (TAXII_BUNDLE + ".new")).unlink(missing_ok=True)
        self.states.put(state)

    def _alert(self, name: str, **fields: str) -> None:
        self.sink.alert(Alert(name, fields, self.clock()))

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One updater per data directory at a time, across processes."""
        lock_path = self.data_dir / "feeds" / ".lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def parse_into_builder(feed: FeedConfig, path: Path, result: UpdateResult,
                       progress: Progress | None = None) -> SnapshotBuilder:
    """Parse a fetched feed into a new builder; counts go into ``result``."""
    builder = SnapshotBuilder()
    builder.add_all(_counting(read_feed(path, feed, result.report), feed.name, progress))
    result.records, result.counts = len(builder), builder.counts
    result.rejected, result.reject_samples = builder.rejected, builder.reject_samples
    return builder


def check_feed(feed: FeedConfig, progress: Progress | None = None) -> UpdateResult:
    """Fetch and parse a feed without publishing anything: what would an update read?"""
    result = UpdateResult(feed.name)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="trapline-check-") as work:
        try:
            path = fetch(feed, Path(work), result.report, state={})
            builder = parse_into_builder(feed, path, result, progress)
            FeedUpdater._check_size(feed, builder, FeedState(name=feed.name), result)
            result.ok = True
        except TraplineError as exc:
            result.error = str(exc)
    result.duration = time.monotonic() - started
    return result


def _counting(records: Iterable[IndicatorRecord], name: str,
              progress: Progress | None) -> Iterator[IndicatorRecord]:
    if progress is None:
        yield from records
        return
    count = 0
    for count, record in enumerate(records, 1):
        if count % PROGRESS_EVERY == 0:
            progress(name, count)
        yield record
    progress(name, count)
