"""List indicators: upsert, delete, paging and search, entries, the lists version."""

from __future__ import annotations

import pytest

from trapline.store import (
    FALSE_POSITIVE,
    INTERNAL_TI,
    Actor,
    IndicatorInput,
    InvalidInput,
    NotFound,
    Store,
)
from trapline.store.indicators import MAX_BATCH, MAX_VALUE_BYTES


def test_put_adds_then_updates(store: Store, actor: Actor) -> None:
    store.tags.create(actor, "apt")
    result = store.indicators.put(actor, INTERNAL_TI, [
        IndicatorInput(value="198.51.100.7", kind="ip", category="C2",
                       context={"score": 90, "note": "ünïcode"}, tags=("apt",),
                       comment="seen", valid_until=2_000_000_000.0),
        IndicatorInput(value="evil.example"),
    ])
    assert (result.added, result.updated) == (2, 0)
    first = store.indicators.get(INTERNAL_TI, "198.51.100.7")
    assert (first.kind, first.category, first.context, first.tags, first.comment) == (
        "ip", "C2", {"score": 90, "note": "ünïcode"}, ("apt",), "seen")
    assert (first.added_by, first.valid_until, first.tenant) == ("alice", 2e9, "General")

    other = Actor(name="bob")
    result = store.indicators.put(other, INTERNAL_TI, [
        IndicatorInput(value="198.51.100.7", category="Botnet"),
        IndicatorInput(value="new.example"),
    ])
    assert (result.added, result.updated) == (1, 1)
    again = store.indicators.get(INTERNAL_TI, "198.51.100.7")
    assert (again.category, again.tags, again.valid_until, again.context) == (
        "Botnet", (), None, {})  # an update replaces the fields
    assert (again.added_by, again.created_at) == ("alice", first.created_at)
    assert again.updated_at >= first.updated_at
    assert store.suppliers.get(INTERNAL_TI).indicators == 3


def test_the_last_of_duplicates_in_one_put_wins(store: Store, actor: Actor) -> None:
    result = store.indicators.put(actor, FALSE_POSITIVE, [
        IndicatorInput(value="a.test", category="one"),
        IndicatorInput(value="a.test", category="two")])
    assert (result.added, result.updated) == (1, 0)
    assert store.indicators.get(FALSE_POSITIVE, "a.test").category == "two"


def test_values_are_kept_as_given(store: Store, actor: Actor) -> None:
    values = ["HXXP://Evil[.]Example/a?b=%2F", "Evil.Example", "evil.example"]
    store.indicators.put(actor, INTERNAL_TI, [IndicatorInput(value=v) for v in values])
    assert sorted(e.value for e in store.list_entries(INTERNAL_TI)) == sorted(values)


@pytest.mark.parametrize("value", ["", "   ", "a\x00b", "x" * (MAX_VALUE_BYTES + 1),
                                   "é" * (MAX_VALUE_BYTES // 2 + 1), "\udcff"])
def test_bad_values_are_refused(store: Store, actor: Actor, value: str) -> None:
    with pytest.raises(InvalidInput):
        store.indicators.put(actor, INTERNAL_TI, [IndicatorInput(value="ok.test"),
                                                  IndicatorInput(value=value)])
    assert store.list_entries(INTERNAL_TI) == []
    assert store.lists_version() == 0


def test_the_longest_value_fits(store: Store, actor: Actor) -> None:
    value = "a" * MAX_VALUE_BYTES
    store.indicators.put(actor, INTERNAL_TI, [IndicatorInput(value=value)])
    assert store.indicators.get(INTERNAL_TI, value).value == value


def test_refusals_change_nothing(store: Store, actor: Actor) -> None:
    with pytest.raises(NotFound, match="tag"):
        store.indicators.put(actor, INTERNAL_TI, [IndicatorInput(value="a", tags=("nope",))])
    with pytest.raises(NotFound):
        store.indicators.put(actor, "Nope", [IndicatorInput(value="a")])
    with pytest.raises(NotFound):
        store.indicators.put(actor, INTERNAL_TI, [IndicatorInput(value="a")], tenant="Nope")
    with pytest.raises(InvalidInput):
        store.indicators.put(actor, INTERNAL_TI, [IndicatorInput(value="a")] * (MAX_BATCH + 1))
    with pytest.raises(InvalidInput):
        store.indicators.put(actor, INTERNAL_TI, [IndicatorInput(value="a", kind="k" * 33)])
    assert store.list_entries(INTERNAL_TI) == []
    assert store.lists_version() == 0
    assert [e.action for e in store.audit.search().items] == ["tenant.create"]


def test_delete(store: Store, actor: Actor) -> None:
    store.indicators.put(actor, INTERNAL_TI, [IndicatorInput(value=v) for v in "abc"])
    assert store.indicators.delete(actor, INTERNAL_TI, ["a", "b", "missing", "a"]) == 2
    assert [e.value for e in store.list_entries(INTERNAL_TI)] == ["c"]
    assert store.indicators.delete(actor, INTERNAL_TI, ["missing"]) == 0
    with pytest.raises(NotFound):
        store.indicators.get(INTERNAL_TI, "a")
    with pytest.raises(NotFound):
        store.indicators.delete(actor, "Nope", ["c"])


def test_a_large_batch(store: Store, actor: Actor) -> None:
    store.tags.create(actor, "bulk")
    entries = [IndicatorInput(value=f"{n}.bulk.test", tags=("bulk",)) for n in range(1500)]
    assert store.indicators.put(actor, INTERNAL_TI, entries[:1000]).added == 1000
    result = store.indicators.put(actor, INTERNAL_TI, entries[300:])
    assert (result.added, result.updated) == (500, 700)
    listed = store.list_entries(INTERNAL_TI)
    assert len(listed) == 1500 and all(e.tags == ("bulk",) for e in listed)
    assert store.indicators.delete(actor, INTERNAL_TI, [e.value for e in entries[:1200]]) == 1200
    audit = store.audit.search(action="indicators.put").items[-1].details
    assert (audit["count"], len(audit["values"]), audit["truncated"]) == (1000, 100, True)


def test_paging_and_search(store: Store, actor: Actor) -> None:
    values = [f"host{n:02}.example" for n in range(25)] + ["50%_off.example", "OTHER.test"]
    store.indicators.put(actor, INTERNAL_TI, [IndicatorInput(value=v) for v in values])
    first = store.indicators.page(INTERNAL_TI, limit=10)
    assert first.total == 27 and len(first.items) == 10 and first.next_cursor == "10"
    last = store.indicators.page(INTERNAL_TI, limit=10, offset=20)
    assert len(last.items) == 7 and last.next_cursor is None
    seen = [e.value for offset in (0, 10, 20)
            for e in store.indicators.page(INTERNAL_TI, limit=10, offset=offset).items]
    assert seen == sorted(values)
    beyond = store.indicators.page(INTERNAL_TI, offset=100)
    assert beyond.items == [] and beyond.total == 27 and beyond.next_cursor is None
    exact = store.indicators.page(INTERNAL_TI, limit=27)
    assert len(exact.items) == 27 and exact.next_cursor is None

    assert store.indicators.page(INTERNAL_TI, search="other").total == 1   # any case
    assert store.indicators.page(INTERNAL_TI, search="HOST1").total == 10
    assert [e.value for e in store.indicators.page(INTERNAL_TI, search="%_").items] == [
        "50%_off.example"]                                                 # no wildcards
    assert store.indicators.page(INTERNAL_TI, search="nothing").items == []
    for bad in ({"limit": 0}, {"limit": 1001}, {"offset": -1}):
        with pytest.raises(InvalidInput):
            store.indicators.page(INTERNAL_TI, **bad)


def test_lists_version_moves_with_every_list_change(store: Store, actor: Actor) -> None:
    store.tenants.create(actor, "Acme")
    seen = [store.lists_version()]

    def changed() -> bool:
        seen.append(store.lists_version())
        return seen[-1] > seen[-2]

    store.indicators.put(actor, INTERNAL_TI, [IndicatorInput(value="a")])
    assert changed()
    store.indicators.put(actor, FALSE_POSITIVE, [IndicatorInput(value="a")])
    assert changed()
    store.indicators.delete(actor, FALSE_POSITIVE, ["a"])
    assert changed()
    store.indicators.delete(actor, FALSE_POSITIVE, ["a"])  # nothing to delete: no change
    store.indicators.put(actor, FALSE_POSITIVE, [])
    assert not changed()
    store.suppliers.create(actor, "Partners")
    assert changed()
    store.indicators.put(actor, INTERNAL_TI, [IndicatorInput(value="b")], tenant="Acme")
    assert changed()
    assert store.lists_version("General") + store.lists_version("Acme") == seen[-1]
    store.users.create(actor, "bob", "hash")  # not a list change
    store.suppliers.create(actor, "Feodo", kind="feed")
    store.detections.add([])
    assert not changed()


def test_entries_and_tenant_isolation(store: Store, actor: Actor) -> None:
    store.tenants.create(actor, "Acme")
    store.tags.create(actor, "apt", tenant="Acme")
    store.indicators.put(actor, INTERNAL_TI, [IndicatorInput(value="general.test")])
    store.indicators.put(actor, INTERNAL_TI, [IndicatorInput(value="acme.test", tags=("apt",))],
                         tenant="Acme")
    general_version = store.lists_version("General")
    assert [e.value for e in store.list_entries(INTERNAL_TI)] == ["general.test"]
    acme = store.list_entries(INTERNAL_TI, "Acme")
    assert [(e.value, e.tenant, e.tags) for e in acme] == [("acme.test", "Acme", ("apt",))]
    with pytest.raises(NotFound):
        store.indicators.get(INTERNAL_TI, "acme.test")
    with pytest.raises(NotFound, match="tag"):  # Acme's tag is not General's
        store.indicators.put(actor, INTERNAL_TI, [IndicatorInput(value="x", tags=("apt",))])
    assert store.indicators.delete(actor, INTERNAL_TI, ["acme.test"]) == 0
    assert len(store.list_entries(INTERNAL_TI, "Acme")) == 1
    store.indicators.put(actor, INTERNAL_TI, [IndicatorInput(value="more")], tenant="Acme")
    assert store.lists_version("General") == general_version
    assert store.indicators.page(INTERNAL_TI).total == 1


@pytest.mark.parametrize("entry", [
    IndicatorInput(value="a", comment="x\x00y"),
    IndicatorInput(value="a", category="\udcff"),
    IndicatorInput(value="a", context={"k": "\udcff"}),
    IndicatorInput(value="a", context={"k": object()}),
    IndicatorInput(value="a", context={"k": "x" * 70_000}),
    IndicatorInput(value="a", valid_until="tomorrow"),  # type: ignore[arg-type]
    IndicatorInput(value="a", kind="k" * 33),
])
def test_fields_the_databases_cannot_hold_are_refused(store: Store, actor: Actor,
                                                      entry: IndicatorInput) -> None:
    with pytest.raises(InvalidInput):
        store.indicators.put(actor, INTERNAL_TI, [entry])
    assert store.list_entries(INTERNAL_TI) == []
