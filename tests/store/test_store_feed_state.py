"""Feed state: the updater's records and the enabled flag."""

from __future__ import annotations

import pytest

from trapline.store import Actor, FeedStatus, InvalidInput, NotFound, Store


def test_a_feed_never_seen_is_fresh_and_enabled(store: Store) -> None:
    assert store.feeds.get("Feodo") == FeedStatus(name="Feodo")
    assert store.feeds.all() == []


def test_successes_and_failures(store: Store) -> None:
    ok = store.feeds.record("Feodo", ok=True, at=100.0, records=42,
                            details={"format": "csv", "counts": {"ip": 42}})
    assert (ok.last_attempt, ok.last_success, ok.records, ok.enabled) == (100.0, 100.0, 42, True)
    assert ok.details == {"format": "csv", "counts": {"ip": 42}}
    failed = store.feeds.record("Feodo", ok=False, at=200.0, error="HTTP 503")
    assert (failed.last_attempt, failed.last_success, failed.records) == (200.0, 100.0, 42)
    assert (failed.last_error, failed.last_error_at, failed.details) == (
        "HTTP 503", 200.0, ok.details)
    assert store.feeds.get("Feodo") == failed
    store.feeds.record("Alpha", ok=True, at=300.0)
    assert [f.name for f in store.feeds.all()] == ["Alpha", "Feodo"]
    assert store.audit.search(action="feed.").items == []  # bookkeeping, not a change


def test_enable_disable_and_forget(store: Store, actor: Actor) -> None:
    assert store.feeds.set_enabled(actor, "Feodo", False).enabled is False
    store.feeds.record("Feodo", ok=True, at=1.0, records=3)
    assert store.feeds.get("Feodo").enabled is False
    assert store.feeds.set_enabled(actor, "Feodo", True).records == 3
    store.feeds.forget(actor, "Feodo")
    assert store.feeds.get("Feodo") == FeedStatus(name="Feodo")
    with pytest.raises(NotFound):
        store.feeds.forget(actor, "Feodo")
    assert [e.action for e in store.audit.search(action="feed.").items] == [
        "feed.forget", "feed.enable", "feed.disable"]


def test_odd_errors_are_stored_cleaned_and_bad_details_refused(store: Store) -> None:
    state = store.feeds.record("Feodo", ok=False, error="bad \udcff byte\x00" + "x" * 5000)
    assert state.last_error.startswith("bad \ufffd") and len(state.last_error) == 4096
    with pytest.raises(InvalidInput):
        store.feeds.record("Feodo", ok=True, details={"x": object()})
    assert store.feeds.get("Feodo") == state
