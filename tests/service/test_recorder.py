"""DetectionRecorder: detections reach the store in batches; a full queue drops and counts."""

from __future__ import annotations

import time
from pathlib import Path

from trapline.service.recorder import DetectionRecorder
from trapline.service.stats import Stats
from trapline.store import open_store
from trapline.store.records import DetectionInput, DetectionQuery


def rows(count: int, start: int = 0) -> list[DetectionInput]:
    return [DetectionInput(detection_id=f"d{i}", time=time.time(), observable=f"h{i}.example",
                           indicator=f"h{i}.example", category="Malicious", feed="vendor",
                           source="10.0.0.1", event=f"domain=h{i}.example")
            for i in range(start, start + count)]


def test_detections_are_written_and_stop_flushes(tmp_path: Path) -> None:
    store = open_store(tmp_path / "data")
    stats = Stats()
    recorder = DetectionRecorder(store, stats, interval=0.05)
    recorder.start()
    recorder.record(rows(2500))
    recorder.record(rows(10, start=2500))
    recorder.stop(30)
    assert store.detections.count(DetectionQuery()) == 2510
    assert stats.counters["detections_recorded"] == 2510
    found = store.detections.search(DetectionQuery(indicator="h2509"), limit=5).items
    assert [d.event for d in found] == ["domain=h2509.example"]
    store.close()


def test_a_full_queue_drops_the_newest_and_counts_them(tmp_path: Path) -> None:
    store = open_store(tmp_path / "data")
    stats = Stats()
    recorder = DetectionRecorder(store, stats, queue_size=100)  # not started: nothing drains
    recorder.record(rows(80))
    recorder.record(rows(50, start=80))
    assert stats.counters["detections_dropped"] == 30
    recorder.start()
    recorder.stop(30)
    assert store.detections.count(DetectionQuery()) == 100
    store.close()


def test_a_failing_store_keeps_the_rows_until_it_answers(tmp_path: Path) -> None:
    store = open_store(tmp_path / "data")
    stats = Stats()
    recorder = DetectionRecorder(store, stats, interval=0.05)
    original = store.detections.add
    failures = [3]

    def flaky(batch):  # type: ignore[no-untyped-def]
        if failures[0]:
            failures[0] -= 1
            raise OSError("disk unplugged")
        return original(batch)

    store.detections.add = flaky  # type: ignore[method-assign]
    recorder.start()
    recorder.record(rows(20))
    deadline = time.monotonic() + 30
    while stats.counters["detections_recorded"] < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    recorder.stop(5)
    assert stats.counters["detections_write_errors"] == 3
    assert store.detections.count(DetectionQuery()) == 20
    store.close()
