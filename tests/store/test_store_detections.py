"""Detections: bulk insert without duplicates, search with keyset paging, counts, stats."""

from __future__ import annotations

import pytest

from trapline.store import (
    MAX_EVENT_CHARS,
    Actor,
    DetectionInput,
    DetectionQuery,
    InvalidInput,
    NotFound,
    Store,
)
from trapline.store.detections import MAX_BATCH

T0 = 1_699_999_980.0  # a minute boundary (28,333,333 minutes)


def make(n: int, **fields: object) -> DetectionInput:
    values: dict[str, object] = {
        "detection_id": f"d{n}", "time": T0 + n, "observable": f"http://h{n}.test/x",
        "indicator": f"h{n}.test", "category": "C2" if n % 3 else "Phishing",
        "feed": "FeedA" if n % 2 else "FeedB", "source": "fw1" if n % 5 else "proxy",
        "context": {"n": n}, "event": f"event {n}", "snapshot": 7}
    values.update(fields)
    return DetectionInput(**values)  # type: ignore[arg-type]


def test_add_and_read_back(store: Store) -> None:
    assert store.detections.add([make(1, context={"score": 90, "tags": ["a"]})]) == 1
    found = store.detections.search(DetectionQuery()).items
    assert len(found) == 1
    d = found[0]
    assert (d.detection_id, d.time, d.tenant, d.observable, d.indicator) == (
        "d1", T0 + 1, "General", "http://h1.test/x", "h1.test")
    assert (d.category, d.feed, d.source, d.context, d.event, d.snapshot) == (
        "C2", "FeedA", "fw1", {"score": 90, "tags": ["a"]}, "event 1", 7)


def test_a_batch_sent_again_adds_nothing(store: Store) -> None:
    batch = [make(n) for n in range(50)]
    assert store.detections.add(batch) == 50
    assert store.detections.add([*batch[40:], make(50)]) == 1
    assert store.detections.count(DetectionQuery()) == 51
    assert store.detections.add([]) == 0


def test_batch_limit(store: Store) -> None:
    with pytest.raises(InvalidInput):
        store.detections.add([make(0)] * (MAX_BATCH + 1))


def test_text_is_bounded_and_cleaned(store: Store) -> None:
    store.detections.add([make(1, event="x" * (MAX_EVENT_CHARS + 100),
                               observable="a\x00b\udcffc", context={"k": "v\udcff\x00"})])
    d = store.detections.search(DetectionQuery()).items[0]
    assert len(d.event) == MAX_EVENT_CHARS
    assert "\x00" not in d.observable and d.observable.startswith("a\ufffdb")
    assert "\udcff" not in d.context["k"]


def test_detection_ids_are_checked(store: Store) -> None:
    for bad in ("", "x" * 129, "a\x00"):
        with pytest.raises(InvalidInput):
            store.detections.add([make(1), make(2, detection_id=bad)])
    assert store.detections.count(DetectionQuery()) == 0


def test_unknown_tenant(store: Store) -> None:
    with pytest.raises(NotFound):
        store.detections.add([make(1, tenant="Nope")])
    with pytest.raises(NotFound):
        store.detections.search(DetectionQuery(tenant="Nope"))


def test_filters_and_counts(store: Store) -> None:
    store.detections.add([make(n) for n in range(30)])
    q = DetectionQuery
    assert store.detections.count(q()) == 30
    assert store.detections.count(q(start=T0 + 10, end=T0 + 20)) == 10   # [start, end)
    assert store.detections.count(q(category="Phishing")) == 10
    assert store.detections.count(q(feed="FeedA")) == 15
    assert store.detections.count(q(source="proxy")) == 6
    assert store.detections.count(q(indicator="H1")) == 11                # substring, any case
    assert store.detections.count(q(indicator="%")) == 0                  # no wildcards
    assert store.detections.count(q(category="C2", feed="FeedB", start=T0 + 10)) == 7
    found = store.detections.search(q(source="proxy", category="Phishing")).items
    assert [d.detection_id for d in found] == ["d15", "d0"]


def test_keyset_paging_newest_first(store: Store) -> None:
    rows = [make(n) for n in range(23)] + [make(100 + n, time=T0 + 5) for n in range(4)]
    store.detections.add(rows)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = store.detections.search(DetectionQuery(), limit=10, cursor=cursor)
        seen += [d.detection_id for d in page.items]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 3
    assert sorted(seen) == sorted(r.detection_id for r in rows) and len(set(seen)) == 27
    times = [d.time for c in (None,) for d in store.detections.search(
        DetectionQuery(), limit=1000, cursor=c).items]
    assert times == sorted(times, reverse=True)
    exact = store.detections.search(DetectionQuery(), limit=27)
    assert len(exact.items) == 27 and exact.next_cursor is None
    assert store.detections.search(DetectionQuery(start=T0 + 999)).items == []
    with pytest.raises(InvalidInput):
        store.detections.search(DetectionQuery(), cursor="nonsense")
    with pytest.raises(InvalidInput):
        store.detections.search(DetectionQuery(), limit=0)


def test_stats_per_category_feed_and_source(store: Store) -> None:
    store.detections.add([make(n) for n in range(30)])
    stats = store.detections.stats
    assert [(s.key, s.count) for s in stats("category", DetectionQuery())] == [
        ("C2", 20), ("Phishing", 10)]
    assert [(s.key, s.count) for s in stats("feed", DetectionQuery(start=T0, end=T0 + 3))] == [
        ("FeedB", 2), ("FeedA", 1)]
    assert [(s.key, s.count) for s in stats("source", DetectionQuery(), limit=1)] == [
        ("fw1", 24)]
    with pytest.raises(InvalidInput):
        stats("observable", DetectionQuery())


def test_timeline_per_minute(store: Store) -> None:
    store.detections.add([make(n, time=T0 + n * 20) for n in range(10)])  # 0..180 s
    per_minute = store.detections.timeline(DetectionQuery(start=T0, end=T0 + 3600))
    assert [(s.key, s.count) for s in per_minute] == [
        (T0, 3), (T0 + 60, 3), (T0 + 120, 3), (T0 + 180, 1)]
    hourly = store.detections.timeline(DetectionQuery(start=T0, end=T0 + 3600), bucket=3600)
    assert [(s.key, s.count) for s in hourly] == [(T0 // 3600 * 3600, 10)]
    with pytest.raises(InvalidInput):
        store.detections.timeline(DetectionQuery(start=T0))
    with pytest.raises(InvalidInput):
        store.detections.timeline(DetectionQuery(start=T0, end=T0 + 10**7), bucket=1)


def test_tenants_are_isolated(store: Store, actor: Actor) -> None:
    store.tenants.create(actor, "Acme")
    store.detections.add([make(1), make(2, tenant="Acme"), make(3, tenant="Acme")])
    general, acme = DetectionQuery(), DetectionQuery(tenant="Acme")
    assert [d.detection_id for d in store.detections.search(general).items] == ["d1"]
    assert store.detections.count(acme) == 2
    assert all(d.tenant == "Acme" for d in store.detections.search(acme).items)
    assert sum(s.count for s in store.detections.stats("category", general)) == 1
    assert sum(s.count for s in store.detections.timeline(
        DetectionQuery(start=T0, end=T0 + 60))) == 1
    assert store.detections.purge(actor, T0 + 100, tenant="Acme") == 2
    assert store.detections.count(general) == 1


def test_purge(store: Store, actor: Actor) -> None:
    store.detections.add([make(n) for n in range(10)])
    assert store.detections.purge(actor, T0 + 4) == 4
    assert store.detections.count(DetectionQuery()) == 6
    entry = store.audit.search(action="detections.purge").items[0]
    assert (entry.target, entry.details) == ("*", {"before": T0 + 4, "deleted": 4})
