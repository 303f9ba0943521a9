"""Tags: per tenant, a strict color, renames and deletes reaching the indicators."""

from __future__ import annotations

import pytest

from trapline.store import (
    INTERNAL_TI,
    Actor,
    AlreadyExists,
    IndicatorInput,
    InvalidInput,
    NotFound,
    Store,
)


def test_create_get_list(store: Store, actor: Actor) -> None:
    tag = store.tags.create(actor, "apt", color="#A0b1C2", description="state actors")
    assert (tag.name, tag.color, tag.description, tag.tenant) == (
        "apt", "#A0b1C2", "state actors", "General")
    store.tags.create(actor, "crime")
    assert store.tags.get("apt") == tag
    assert [t.name for t in store.tags.all()] == ["apt", "crime"]


@pytest.mark.parametrize("color", ["red", "#fff", "#12345g", "#123456;x", "url(x)"])
def test_only_hex_colors(store: Store, actor: Actor, color: str) -> None:
    with pytest.raises(InvalidInput):
        store.tags.create(actor, "apt", color=color)
    store.tags.create(actor, "apt")
    with pytest.raises(InvalidInput):
        store.tags.update(actor, "apt", color=color)
    assert store.tags.get("apt").color == ""


def test_refusals(store: Store, actor: Actor) -> None:
    store.tags.create(actor, "apt")
    store.tags.create(actor, "crime")
    with pytest.raises(AlreadyExists):
        store.tags.create(actor, "apt")
    with pytest.raises(AlreadyExists):
        store.tags.update(actor, "crime", new_name="apt")
    with pytest.raises(InvalidInput):
        store.tags.create(actor, "")
    for call in (lambda: store.tags.get("nope"),
                 lambda: store.tags.update(actor, "nope", color=""),
                 lambda: store.tags.delete(actor, "nope")):
        with pytest.raises(NotFound):
            call()


def test_rename_and_delete_reach_the_indicators(store: Store, actor: Actor) -> None:
    store.tags.create(actor, "apt")
    store.tags.create(actor, "unused")
    store.indicators.put(actor, INTERNAL_TI, [IndicatorInput(value="a.test", tags=("apt",))])
    version = store.lists_version()
    store.tags.update(actor, "unused", new_name="still-unused", description="d")
    assert store.lists_version() == version
    renamed = store.tags.update(actor, "apt", new_name="apt29", color="#000000")
    assert (renamed.name, renamed.color) == ("apt29", "#000000")
    assert store.lists_version() == version + 1
    assert store.list_entries(INTERNAL_TI)[0].tags == ("apt29",)
    store.tags.delete(actor, "apt29")
    assert store.lists_version() == version + 2
    assert store.list_entries(INTERNAL_TI)[0].tags == ()
    assert store.audit.search(action="tag.delete").items[0].details == {"indicators": 1}


def test_tenants_are_isolated(store: Store, actor: Actor) -> None:
    store.tenants.create(actor, "Acme")
    store.tags.create(actor, "apt", tenant="Acme")
    store.tags.create(actor, "apt")  # the same name in another tenant
    store.tags.create(actor, "acme-only", tenant="Acme")
    assert [t.name for t in store.tags.all()] == ["apt"]
    with pytest.raises(NotFound):
        store.tags.get("acme-only")
    with pytest.raises(NotFound):
        store.tags.delete(actor, "acme-only")
    store.tags.delete(actor, "apt")
    assert [t.name for t in store.tags.all(tenant="Acme")] == ["acme-only", "apt"]


def test_tag_and_untag_one_entry_audited_and_versioned(store: Store, actor: Actor) -> None:
    store.tags.create(actor, "apt")
    store.indicators.put(actor, INTERNAL_TI, [IndicatorInput(value="192.0.2.1",
                                                             comment="keep")])
    before = store.indicators.version("General")
    assert store.indicators.tag(actor, INTERNAL_TI, "192.0.2.1", "apt") is True
    assert store.indicators.tag(actor, INTERNAL_TI, "192.0.2.1", "apt") is False
    entry = store.indicators.get(INTERNAL_TI, "192.0.2.1")
    assert entry.tags == ("apt",) and entry.comment == "keep"
    assert store.indicators.version("General") == before + 1
    assert store.tags.usage() == {"apt": 1}
    assert store.indicators.untag(actor, INTERNAL_TI, "192.0.2.1", "apt") is True
    assert store.indicators.untag(actor, INTERNAL_TI, "192.0.2.1", "apt") is False
    assert store.indicators.get(INTERNAL_TI, "192.0.2.1").tags == ()
    assert store.tags.usage() == {"apt": 0}
    actions = [(a.action, a.details) for a in store.audit.search(limit=10).items]
    assert ("indicators.untag", {"value": "192.0.2.1", "tag": "apt"}) in actions
    assert ("indicators.tag", {"value": "192.0.2.1", "tag": "apt"}) in actions
    with pytest.raises(NotFound):
        store.indicators.tag(actor, INTERNAL_TI, "192.0.2.99", "apt")
    with pytest.raises(NotFound):
        store.indicators.tag(actor, INTERNAL_TI, "192.0.2.1", "nope")


def test_delete_unused_only(store: Store, actor: Actor) -> None:
    store.tags.create(actor, "apt")
    store.indicators.put(actor, INTERNAL_TI, [IndicatorInput(value="192.0.2.1",
                                                             tags=("apt",))])
    with pytest.raises(InvalidInput, match="on 1 indicator"):
        store.tags.delete(actor, "apt", unused_only=True)
    assert store.tags.get("apt").name == "apt"
    store.indicators.untag(actor, INTERNAL_TI, "192.0.2.1", "apt")
    store.tags.delete(actor, "apt", unused_only=True)
    assert store.tags.all() == []
