"""Lookup history: newest first, per user, bounded."""

from __future__ import annotations

import pytest

from trapline.store import Actor, InvalidInput, NotFound, Store
from trapline.store import lookups as lookups_module


@pytest.fixture
def users(store: Store, actor: Actor) -> None:
    store.tenants.create(actor, "Acme")
    store.users.create(actor, "bob", "hash")
    store.users.create(actor, "carol", "hash", tenant="Acme")


@pytest.mark.usefixtures("users")
def test_recent_lookups_per_user(store: Store) -> None:
    first = store.lookups.add("bob", ["192.0.2.1"], {"detected": 1}, at=100.0)
    store.lookups.add("bob", ["a.test", "b.test"], {"detected": 0, "not detected": 2}, at=200.0)
    store.lookups.add("carol", ["c.test"], {"detected": 0}, tenant="Acme", at=150.0)
    recent = store.lookups.recent("bob")
    assert [r.values for r in recent] == [["a.test", "b.test"], ["192.0.2.1"]]
    assert recent[1] == first
    assert (recent[0].summary, recent[0].total, recent[0].tenant) == (
        {"detected": 0, "not detected": 2}, 2, "General")
    assert [r.values for r in store.lookups.recent("bob", limit=1)] == [["a.test", "b.test"]]
    assert [(r.user, r.tenant) for r in store.lookups.recent("carol")] == [("carol", "Acme")]


@pytest.mark.usefixtures("users")
def test_values_and_history_are_bounded(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    record = store.lookups.add("bob", [f"{n}.test" for n in range(250)], {})
    assert len(record.values) == lookups_module.MAX_VALUES and record.total == 250
    monkeypatch.setattr(lookups_module, "KEEP_PER_USER", 5)
    for n in range(8):
        store.lookups.add("bob", [f"v{n}"], {})
    store.lookups.add("carol", ["c"], {}, tenant="Acme")
    assert [r.values[0] for r in store.lookups.recent("bob", limit=100)] == [
        "v7", "v6", "v5", "v4", "v3"]
    assert len(store.lookups.recent("carol")) == 1


@pytest.mark.usefixtures("users")
def test_refusals(store: Store) -> None:
    with pytest.raises(NotFound):
        store.lookups.add("nobody", ["x"], {})
    with pytest.raises(NotFound):
        store.lookups.recent("nobody")
    with pytest.raises(NotFound):
        store.lookups.add("bob", ["x"], {}, tenant="Nope")
    with pytest.raises(InvalidInput):
        store.lookups.recent("bob", limit=0)
    assert store.lookups.recent("bob") == []


@pytest.mark.usefixtures("users")
def test_odd_text_is_stored_cleaned(store: Store) -> None:
    store.lookups.add("bob", ["a\x00b", "\udcff"], {"k\udcff": "v\x00"})
    record = store.lookups.recent("bob")[0]
    assert record.values[0] == "a\ufffdb" and "\udcff" not in record.values[1]
    assert "\udcff" not in repr(record.summary)
