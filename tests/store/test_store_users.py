"""Users: roles, the password hash kept apart, updates, deletion with tokens and history."""

from __future__ import annotations

import pytest

from trapline.store import (
    ADMINISTRATOR,
    ANALYST,
    Actor,
    AlreadyExists,
    InvalidInput,
    NotFound,
    Store,
    token_digest,
)

HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"


def test_create_and_read_a_user(store: Store, actor: Actor) -> None:
    user = store.users.create(actor, "bob", HASH, role=ADMINISTRATOR,
                              must_change_password=True)
    assert (user.name, user.tenant, user.role) == ("bob", "General", ADMINISTRATOR)
    assert not user.disabled and user.must_change_password
    assert user.created_at == user.updated_at
    assert store.users.get("bob") == user
    assert store.users.find("bob") == user
    assert store.users.password_hash("bob") == HASH
    assert "argon2" not in repr(user)


def test_unknown_users(store: Store, actor: Actor) -> None:
    assert store.users.find("nobody") is None
    assert store.users.password_hash("nobody") is None
    for call in (lambda: store.users.get("nobody"),
                 lambda: store.users.update(actor, "nobody", disabled=True),
                 lambda: store.users.set_password(actor, "nobody", HASH),
                 lambda: store.users.delete(actor, "nobody")):
        with pytest.raises(NotFound):
            call()


def test_names_are_unique_across_tenants(store: Store, actor: Actor) -> None:
    store.tenants.create(actor, "Acme")
    store.users.create(actor, "bob", HASH)
    with pytest.raises(AlreadyExists):
        store.users.create(actor, "bob", HASH, tenant="Acme")


def test_invalid_users_are_refused(store: Store, actor: Actor) -> None:
    with pytest.raises(InvalidInput, match="role"):
        store.users.create(actor, "bob", HASH, role="Root")
    with pytest.raises(InvalidInput):
        store.users.create(actor, "", HASH)
    with pytest.raises(InvalidInput):
        store.users.create(actor, "bob", "")
    with pytest.raises(NotFound):
        store.users.create(actor, "bob", HASH, tenant="Nope")
    with pytest.raises(InvalidInput, match="internal jobs"):
        store.users.create(actor, "System", HASH)  # the audit log's name for the system
    with pytest.raises(InvalidInput):
        store.users.create(actor, "bob", "hash\x00")
    assert store.users.all() == []


def test_update_role_disabled_tenant_and_flags(store: Store, actor: Actor) -> None:
    store.tenants.create(actor, "Acme")
    created = store.users.create(actor, "bob", HASH)
    user = store.users.update(actor, "bob", role=ADMINISTRATOR, disabled=True, tenant="Acme",
                              must_change_password=True)
    assert (user.role, user.disabled, user.tenant, user.must_change_password) == (
        ADMINISTRATOR, True, "Acme", True)
    assert user.updated_at >= created.updated_at
    assert store.users.update(actor, "bob", disabled=False).disabled is False
    with pytest.raises(InvalidInput):
        store.users.update(actor, "bob", role="Root")
    with pytest.raises(NotFound):
        store.users.update(actor, "bob", tenant="Nope")
    assert store.users.get("bob").tenant == "Acme"


def test_set_password(store: Store, actor: Actor) -> None:
    store.users.create(actor, "bob", HASH, must_change_password=True)
    user = store.users.set_password(actor, "bob", "new-hash")
    assert store.users.password_hash("bob") == "new-hash"
    assert not user.must_change_password
    entry = store.audit.search(action="user.password").items[0]
    assert "new-hash" not in repr(entry) and HASH not in repr(entry)


def test_listing_by_tenant(store: Store, actor: Actor) -> None:
    store.tenants.create(actor, "Acme")
    store.users.create(actor, "carol", HASH, role=ANALYST, tenant="Acme")
    store.users.create(actor, "bob", HASH)
    assert [u.name for u in store.users.all()] == ["bob", "carol"]
    assert [u.name for u in store.users.all(tenant="Acme")] == ["carol"]
    assert [u.name for u in store.users.all(tenant="General")] == ["bob"]


def test_deleting_a_user_deletes_tokens_and_history(store: Store, actor: Actor) -> None:
    store.users.create(actor, "bob", HASH)
    store.tokens.create(actor, "bob", "siem", token_digest("secret"))
    store.lookups.add("bob", ["192.0.2.1"], {"detected": 0})
    store.users.delete(actor, "bob")
    assert store.users.find("bob") is None
    assert store.tokens.all() == []
    assert store.tokens.find(token_digest("secret")) is None
    store.users.create(actor, "bob", HASH)
    assert store.lookups.recent("bob") == []
