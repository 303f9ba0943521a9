"""The feed updater against real files and real LMDB snapshots: atomic, verified, alerted."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from trapline import alerts
from trapline.alerts import Alert, CollectedAlerts
from trapline.feeds.config import FeedConfig, feed_from_dict
from trapline.feeds.state import FeedStates
from trapline.feeds.updater import FeedUpdater, UpdateFailed
from trapline.index import SnapshotCatalog, SnapshotFollower


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def vendor(path: Path, values: list[str]) -> Path:
    path.write_text(json.dumps([{"mask": v, "n": i} for i, v in enumerate(values)]))
    return path


def plain(path: Path, values: list[str]) -> Path:
    path.write_text("".join(f"{v}\n" for v in values))
    return path


def feed(path: Path, **settings: Any) -> FeedConfig:
    return feed_from_dict({"source": str(path), **settings})


def updater(tmp_path: Path, feeds: list[FeedConfig], clock: Clock,
            sink: CollectedAlerts | None = None) -> FeedUpdater:
    return FeedUpdater(tmp_path / "data", feeds, sink or CollectedAlerts(), clock=clock)


def hosts(n: int, tag: str = "a") -> list[str]:
    return [f"{tag}{i}.evil.example" for i in range(n)]


def test_update_publishes_every_feed_and_alerts(tmp_path: Path, clock: Clock) -> None:
    urls = feed(vendor(tmp_path / "urls.json", hosts(10)), category="URLs")
    ips = feed(plain(tmp_path / "ips.txt", ["192.0.2.1", "198.51.100.0/24"]))
    sink = CollectedAlerts()
    results = updater(tmp_path, [urls, ips], clock, sink).update()
    assert [(r.name, r.ok, r.records) for r in results] == [("urls.json", True, 10),
                                                            ("ips.txt", True, 2)]
    assert [a.text() for a in sink.alerts] == [
        "alert=KL_ALERT_UpdatedFeed feed=urls.json records=10",
        "alert=KL_ALERT_UpdatedFeed feed=ips.txt records=2"]
    snapshot = SnapshotCatalog(tmp_path / "data").open_current()
    assert snapshot.lookup("http://a3.evil.example/x").matches[0].category == "URLs"
    assert snapshot.lookup("198.51.100.9").matches[0].feed == "ips.txt"
    state = FeedStates(tmp_path / "data").get("urls.json")
    assert (state.records, state.last_success, state.format, state.available) == (
        10, clock.now, "vendor-json", True)


def test_one_feed_update_keeps_the_other_feeds_records(tmp_path: Path, clock: Clock) -> None:
    first = feed(plain(tmp_path / "one.txt", hosts(3, "one")))
    second = feed(plain(tmp_path / "two.txt", hosts(3, "two")))
    up = updater(tmp_path, [first, second], clock)
    up.update()
    plain(tmp_path / "one.txt", hosts(4, "new"))
    [result] = up.update(["one.txt"])
    assert result.ok and result.snapshot == 2
    snapshot = SnapshotCatalog(tmp_path / "data").open_current()
    assert snapshot.lookup("two1.evil.example").matches
    assert snapshot.lookup("new3.evil.example").matches
    assert not snapshot.lookup("one1.evil.example").matches


def test_a_feed_failing_half_way_leaves_the_old_snapshot_answering(tmp_path: Path,
                                                                   clock: Clock) -> None:
    path = vendor(tmp_path / "urls.json", hosts(50, "old"))
    sink = CollectedAlerts()
    up = updater(tmp_path, [feed(path)], clock, sink)
    up.update()
    catalog = SnapshotCatalog(tmp_path / "data")
    follower = SnapshotFollower(catalog)
    stop = threading.Event()
    seen: set[tuple[int, bool, bool]] = set()

    def look() -> None:
        while not stop.is_set():
            snapshot = follower.get()
            seen.add((snapshot.version, bool(snapshot.lookup("old7.evil.example").matches),
                      bool(snapshot.lookup("new7.evil.example").matches)))

    reader = threading.Thread(target=look)
    reader.start()
    try:
        text = json.dumps([{"mask": h} for h in hosts(5000, "new")])
        path.write_text(text[: len(text) // 2])  # cut in the middle of the array
        [result] = up.update()
    finally:
        stop.set()
        reader.join()
    assert not result.ok and "malformed JSON" in result.error
    assert seen == {(1, True, False)}  # only ever the old version, whole
    assert catalog.current_path() == catalog.path_of(1)
    assert sink.alerts[-1].name == alerts.FAILED_TO_UPDATE_FEED
    assert "malformed JSON" in sink.alerts[-1].fields["reason"]
    state = FeedStates(tmp_path / "data").get("urls.json")
    assert state.records == 50 and state.last_error == result.error
    assert not (tmp_path / "data/feeds/urls.json/shard.new").exists()


def test_empty_feed_is_refused(tmp_path: Path, clock: Clock) -> None:
    path = plain(tmp_path / "list.txt", ["evil.example"])
    up = updater(tmp_path, [feed(path)], clock)
    up.update()
    path.write_text("# nothing left\nnot an indicator\n")
    [result] = up.update()
    assert not result.ok
    assert result.error == "the feed holds no indicators (1 values rejected)"
    assert SnapshotCatalog(tmp_path / "data").open_current().lookup("evil.example").matches


def test_shrinking_under_half_needs_allow_shrink(tmp_path: Path, clock: Clock) -> None:
    path = plain(tmp_path / "list.txt", hosts(100))
    up = updater(tmp_path, [feed(path)], clock)
    up.update()
    plain(path, hosts(5))  # 95 % fewer entries
    [result] = up.update()
    assert not result.ok and "under half of the 100 in force" in result.error
    assert SnapshotCatalog(tmp_path / "data").open_current().lookup("a50.evil.example").matches
    up = updater(tmp_path, [feed(path, allow_shrink=True)], clock)
    [result] = up.update()
    assert result.ok and result.records == 5


def test_failed_verification_keeps_the_feed_but_publishes_the_others(tmp_path: Path,
                                                                     clock: Clock) -> None:
    checked = feed(plain(tmp_path / "checked.txt", ["192.0.2.1", "evil.example"]),
                   verify=["192.0.2.1"])
    other = feed(plain(tmp_path / "other.txt", ["other.example"]))
    up = updater(tmp_path, [checked, other], clock)
    assert all(r.ok for r in up.update())
    plain(tmp_path / "checked.txt", ["evil.example", "new.example"])  # the test IP vanished
    plain(tmp_path / "other.txt", ["other.example", "more.example"])
    results = {r.name: r for r in up.update()}
    assert results["checked.txt"].error == "verification failed: 192.0.2.1 did not match"
    assert results["other.txt"].ok
    snapshot = SnapshotCatalog(tmp_path / "data").open_current()
    assert snapshot.lookup("192.0.2.1").matches  # the checked feed's old records
    assert not snapshot.lookup("new.example").matches
    assert snapshot.lookup("more.example").matches


def test_unavailable_and_available_again(tmp_path: Path, clock: Clock) -> None:
    path = plain(tmp_path / "list.txt", ["evil.example"])
    sink = CollectedAlerts()
    up = updater(tmp_path, [feed(path)], clock, sink)
    up.update()
    path.unlink()
    up.update()
    up.update()
    plain(path, ["evil.example"])
    up.update()
    assert sink.names() == [
        alerts.UPDATED_FEED,
        alerts.FEED_BECAME_UNAVAILABLE, alerts.FAILED_TO_UPDATE_FEED,
        alerts.FAILED_TO_UPDATE_FEED,  # still unavailable: said once
        alerts.FEED_BECAME_AVAILABLE, alerts.UPDATED_FEED]


def test_schedule_and_outdated_alert(tmp_path: Path, clock: Clock) -> None:
    hourly = feed(plain(tmp_path / "hourly.txt", ["evil.example"]), schedule=60)
    never = feed(plain(tmp_path / "never.txt", ["other.example"]), schedule=0)
    off = feed(plain(tmp_path / "off.txt", ["off.example"]), enabled=False)
    sink = CollectedAlerts()
    up = updater(tmp_path, [hourly, never, off], clock, sink)
    assert up.due() == ["hourly.txt", "never.txt"]  # never updated: due at once
    up.update(up.due())
    assert up.due() == []
    clock.now += 3600
    assert up.due() == ["hourly.txt"]
    assert up.check_outdated() == []
    (tmp_path / "hourly.txt").unlink()
    clock.now += 25 * 3600  # over a day and three schedules without success
    up.update(up.due())
    assert up.check_outdated() == ["hourly.txt"]
    assert up.check_outdated() == []  # raised once
    assert sink.alerts[-1].name == alerts.OUTDATED_FEED
    assert SnapshotCatalog(tmp_path / "data").open_current().lookup("evil.example").matches
    assert not SnapshotCatalog(tmp_path / "data").open_current().lookup("off.example").matches


def test_rebuild_drops_feeds_no_longer_configured(tmp_path: Path, clock: Clock) -> None:
    keep = feed(plain(tmp_path / "keep.txt", ["keep.example"]))
    drop = feed(plain(tmp_path / "drop.txt", ["drop.example"]))
    updater(tmp_path, [keep, drop], clock).update()
    updater(tmp_path, [keep], clock).rebuild()
    snapshot = SnapshotCatalog(tmp_path / "data").open_current()
    assert snapshot.lookup("keep.example").matches and not snapshot.lookup("drop.example").matches


def test_allow_list_feed_suppresses_and_is_verified(tmp_path: Path, clock: Clock) -> None:
    bad = feed(plain(tmp_path / "bad.txt", ["8.8.8.8", "evil.example"]))
    good = feed(plain(tmp_path / "good.txt", ["8.8.8.8"]), allow=True, verify=["8.8.8.8"])
    [first, second] = updater(tmp_path, [bad, good], clock).update()
    assert first.ok and second.ok
    verdict = SnapshotCatalog(tmp_path / "data").open_current().lookup("8.8.8.8")
    assert verdict.matches == [] and verdict.allowed_by[0].feed == "good.txt"
    assert verdict.suppressed[0].feed == "bad.txt"


def test_unknown_feed_name_is_an_error(tmp_path: Path, clock: Clock) -> None:
    with pytest.raises(UpdateFailed, match="no feed named nope"):
        updater(tmp_path, [], clock).update(["nope"])


def test_alert_text_is_one_line() -> None:
    alert = Alert(alerts.FAILED_TO_UPDATE_FEED, {"feed": "x", "reason": "a\nb\r\nc"})
    assert alert.text() == "alert=KL_ALERT_FailedToUpdateFeed feed=x reason=a b c"


def test_run_due_updates_only_what_is_due(tmp_path: Path, clock: Clock) -> None:
    hourly = feed(plain(tmp_path / "hourly.txt", ["evil.example"]), schedule=60)
    daily = feed(plain(tmp_path / "daily.txt", ["other.example"]), schedule=1440)
    up = updater(tmp_path, [hourly, daily], clock)
    assert [r.name for r in up.run_due()] == ["hourly.txt", "daily.txt"]
    clock.now += 2 * 3600
    assert [r.name for r in up.run_due()] == ["hourly.txt"]
    assert up.run_due() == []


_FULL_DISK_CHILD = """
import resource, signal, sys
from pathlib import Path
from trapline.alerts import CollectedAlerts
from trapline.feeds.config import feed_from_dict
from trapline.feeds.updater import FeedUpdater
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)      # writes past the limit fail with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
feed = feed_from_dict({"source": sys.argv[2], "allow_shrink": True})
[result] = FeedUpdater(Path(sys.argv[1]), [feed], CollectedAlerts()).update()
print(result.ok, result.error)
"""


def test_a_full_disk_fails_the_update_cleanly(tmp_path: Path, clock: Clock) -> None:
    """No file may grow past 200 kB in the child: the shard or snapshot write fails."""
    import subprocess
    import sys

    path = plain(tmp_path / "list.txt", hosts(10))
    updater(tmp_path, [feed(path)], clock).update()
    plain(path, hosts(20_000, "big"))
    child = subprocess.run([sys.executable, "-c", _FULL_DISK_CHILD, str(tmp_path / "data"),
                            str(path)], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    assert child.stdout.startswith("False cannot write"), child.stdout
    snapshot = SnapshotCatalog(tmp_path / "data").open_current()
    assert snapshot.version == 1 and snapshot.lookup("a3.evil.example").matches
    assert not snapshot.lookup("big3.evil.example").matches
    assert not (tmp_path / "data/feeds/list.txt/shard.new").exists()
    state = FeedStates(tmp_path / "data").get("list.txt")
    assert state.records == 10 and state.last_error.startswith("cannot write")
