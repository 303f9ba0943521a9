"""Suppliers: feed and list kinds, unique names per tenant, the reserved built-ins."""

from __future__ import annotations

import pytest

from trapline.store import (
    FALSE_POSITIVE,
    INTERNAL_TI,
    Actor,
    AlreadyExists,
    IndicatorInput,
    InvalidInput,
    NotFound,
    ReservedName,
    Store,
)


def test_create_get_and_list(store: Store, actor: Actor) -> None:
    feed = store.suppliers.create(actor, "Feodo", kind="feed", description="abuse.ch")
    custom = store.suppliers.create(actor, "Partners")
    assert (feed.kind, feed.description, feed.builtin) == ("feed", "abuse.ch", False)
    assert (custom.kind, custom.indicators) == ("list", 0)
    assert store.suppliers.get("Feodo") == feed
    assert [s.name for s in store.suppliers.all()] == [
        "FalsePositive", "Feodo", INTERNAL_TI, "Partners"]
    assert [s.name for s in store.suppliers.all(kind="feed")] == ["Feodo"]


def test_counts_indicators(store: Store, actor: Actor) -> None:
    store.indicators.put(actor, INTERNAL_TI, [IndicatorInput(value=v) for v in "abc"])
    assert store.suppliers.get(INTERNAL_TI).indicators == 3
    assert store.suppliers.get(FALSE_POSITIVE).indicators == 0


def test_refusals(store: Store, actor: Actor) -> None:
    store.suppliers.create(actor, "Partners")
    with pytest.raises(AlreadyExists):
        store.suppliers.create(actor, "Partners", kind="feed")
    with pytest.raises(InvalidInput, match="kind"):
        store.suppliers.create(actor, "Other", kind="stream")
    with pytest.raises(InvalidInput):
        store.suppliers.create(actor, "")
    with pytest.raises(NotFound):
        store.suppliers.get("Nope")
    with pytest.raises(NotFound):
        store.suppliers.create(actor, "X", tenant="Nope")


@pytest.mark.parametrize("name", [INTERNAL_TI, FALSE_POSITIVE, "internalti", "FALSEPOSITIVE"])
def test_built_in_names_are_reserved(store: Store, actor: Actor, name: str) -> None:
    with pytest.raises(ReservedName):
        store.suppliers.create(actor, name)
    store.suppliers.create(actor, "Partners")
    with pytest.raises(ReservedName):
        store.suppliers.update(actor, "Partners", new_name=name)


@pytest.mark.parametrize("name", [INTERNAL_TI, FALSE_POSITIVE])
def test_built_ins_cannot_be_renamed_or_deleted(store: Store, actor: Actor, name: str) -> None:
    with pytest.raises(ReservedName, match="renamed"):
        store.suppliers.update(actor, name, new_name="Mine")
    with pytest.raises(ReservedName, match="deleted"):
        store.suppliers.delete(actor, name)
    updated = store.suppliers.update(actor, name, description="ours")  # a description is fine
    assert (updated.name, updated.description) == (name, "ours")


def test_rename_and_describe(store: Store, actor: Actor) -> None:
    store.suppliers.create(actor, "Partners")
    store.suppliers.create(actor, "Taken")
    store.indicators.put(actor, "Partners", [IndicatorInput(value="x.test")])
    version = store.lists_version()
    renamed = store.suppliers.update(actor, "Partners", new_name="Allies", description="d")
    assert (renamed.name, renamed.description, renamed.indicators) == ("Allies", "d", 1)
    assert store.lists_version() == version + 1
    assert [e.supplier for e in store.list_entries("Allies")] == ["Allies"]
    with pytest.raises(NotFound):
        store.suppliers.get("Partners")
    with pytest.raises(AlreadyExists):
        store.suppliers.update(actor, "Allies", new_name="Taken")
    with pytest.raises(NotFound):
        store.suppliers.update(actor, "Partners", description="x")


def test_delete_removes_the_indicators(store: Store, actor: Actor) -> None:
    store.tags.create(actor, "apt")
    store.suppliers.create(actor, "Partners")
    store.indicators.put(actor, "Partners", [IndicatorInput(value="x.test", tags=("apt",))])
    version = store.lists_version()
    store.suppliers.delete(actor, "Partners")
    assert store.lists_version() == version + 1
    with pytest.raises(NotFound):
        store.list_entries("Partners")
    store.suppliers.create(actor, "Partners")
    assert store.list_entries("Partners") == []
    assert store.audit.search(action="supplier.delete").items[0].details == {
        "kind": "list", "indicators": 1}
    with pytest.raises(NotFound):
        store.suppliers.delete(actor, "Nope")


def test_feed_suppliers_hold_no_list_indicators(store: Store, actor: Actor) -> None:
    store.suppliers.create(actor, "Feodo", kind="feed")
    with pytest.raises(InvalidInput, match="feed"):
        store.indicators.put(actor, "Feodo", [IndicatorInput(value="192.0.2.1")])
    with pytest.raises(InvalidInput):
        store.list_entries("Feodo")


def test_tenants_are_isolated(store: Store, actor: Actor) -> None:
    store.tenants.create(actor, "Acme")
    store.suppliers.create(actor, "Partners")
    store.suppliers.create(actor, "Partners", tenant="Acme")  # the same name is fine
    store.suppliers.create(actor, "AcmeOnly", tenant="Acme")
    assert "AcmeOnly" not in {s.name for s in store.suppliers.all()}
    with pytest.raises(NotFound):
        store.suppliers.get("AcmeOnly")
    with pytest.raises(NotFound):
        store.suppliers.delete(actor, "AcmeOnly")
    store.suppliers.delete(actor, "Partners")
    assert store.suppliers.get("Partners", tenant="Acme").tenant == "Acme"
