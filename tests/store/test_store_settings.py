"""Settings: JSON values by key, who changed them, secrets masked in the audit log."""

from __future__ import annotations

import pytest

from trapline.store import Actor, InvalidInput, NotFound, Store
from trapline.store.settings_store import MASK, MAX_VALUE_BYTES


def test_set_get_and_list(store: Store, actor: Actor) -> None:
    assert store.settings.get("retention.days") is None
    assert store.settings.get("retention.days", 30) == 30
    setting = store.settings.set(actor, "retention.days", 90)
    assert (setting.key, setting.value, setting.updated_by) == ("retention.days", 90, "alice")
    store.settings.set(actor, "ui", {"theme": "dark", "columns": ["a", "b"]})
    store.settings.set(actor, "nothing", None)
    assert store.settings.get("ui") == {"theme": "dark", "columns": ["a", "b"]}
    assert store.settings.find("nothing") is not None
    assert store.settings.get("nothing", "default") is None
    assert [s.key for s in store.settings.all()] == ["nothing", "retention.days", "ui"]
    store.settings.set(actor, "retention.days", 7)
    assert store.settings.get("retention.days") == 7
    assert store.audit.search(action="setting.set").items[0].details == {"old": 90, "new": 7}


def test_delete(store: Store, actor: Actor) -> None:
    store.settings.set(actor, "a", 1)
    store.settings.delete(actor, "a")
    assert store.settings.find("a") is None
    with pytest.raises(NotFound):
        store.settings.delete(actor, "a")


def test_refusals(store: Store, actor: Actor) -> None:
    with pytest.raises(InvalidInput):
        store.settings.set(actor, "", 1)
    with pytest.raises(InvalidInput):
        store.settings.set(actor, "a", object())
    with pytest.raises(InvalidInput):
        store.settings.set(actor, "a", "x" * MAX_VALUE_BYTES)
    with pytest.raises(InvalidInput):
        store.settings.set(actor, "a", {"k": "\udcff"})
    assert store.settings.all() == []


@pytest.mark.parametrize("key", ["smtp.password", "siem.api_key", "token", "Secret-Word"])
def test_secret_values_are_masked_in_the_audit_log(store: Store, actor: Actor,
                                                   key: str) -> None:
    store.settings.set(actor, key, "hunter2")
    store.settings.set(actor, key, "hunter3")
    store.settings.delete(actor, key)
    entries = store.audit.search(target=key).items
    assert len(entries) == 3 and "hunter" not in repr(entries)
    assert entries[1].details == {"old": MASK, "new": MASK}


def test_other_keys_are_not_masked(store: Store, actor: Actor) -> None:
    store.settings.set(actor, "monkey.count", 3)  # "key" only as part of a word
    assert store.audit.search(target="monkey.count").items[0].details["new"] == 3
