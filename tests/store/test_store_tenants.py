"""Tenants: General exists, new tenants get their built-ins, names are unique."""

from __future__ import annotations

import pytest

from trapline.store import (
    BUILTIN,
    DEFAULT_TENANT,
    Actor,
    AlreadyExists,
    InvalidInput,
    NotFound,
    Store,
)


def test_general_exists_with_its_built_in_suppliers(store: Store) -> None:
    assert [t.name for t in store.tenants.all()] == [DEFAULT_TENANT]
    assert {s.name for s in store.suppliers.all()} == set(BUILTIN)
    assert store.lists_version(DEFAULT_TENANT) == 0


def test_a_new_tenant_gets_built_ins_and_a_lists_version(store: Store, actor: Actor) -> None:
    tenant = store.tenants.create(actor, "Acme")
    assert tenant.name == "Acme"
    assert store.tenants.get("Acme") == tenant
    assert [t.name for t in store.tenants.all()] == ["Acme", DEFAULT_TENANT]
    suppliers = store.suppliers.all(tenant="Acme")
    assert {s.name for s in suppliers} == set(BUILTIN)
    assert all(s.builtin and s.kind == "list" and s.tenant == "Acme" for s in suppliers)
    assert store.lists_version("Acme") == 0


def test_duplicate_and_invalid_tenants_are_refused(store: Store, actor: Actor) -> None:
    with pytest.raises(AlreadyExists):
        store.tenants.create(actor, DEFAULT_TENANT)
    for name in ["", "   ", "a\nb", "x" * 201]:
        with pytest.raises(InvalidInput):
            store.tenants.create(actor, name)
    assert len(store.tenants.all()) == 1


def test_unknown_tenants_are_not_found_everywhere(store: Store) -> None:
    with pytest.raises(NotFound, match="unknown tenant 'Nope'"):
        store.tenants.get("Nope")
    for call in (lambda: store.suppliers.all(tenant="Nope"),
                 lambda: store.tags.all(tenant="Nope"),
                 lambda: store.lists_version("Nope"),
                 lambda: store.list_entries("InternalTI", "Nope"),
                 lambda: store.users.all(tenant="Nope")):
        with pytest.raises(NotFound):
            call()
