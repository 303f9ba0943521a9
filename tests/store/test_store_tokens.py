"""API tokens: stored as SHA-256 only; found only while usable."""

from __future__ import annotations

import pytest

from trapline.store import Actor, AlreadyExists, InvalidInput, NotFound, Store, token_digest
from trapline.store.tokens import TOUCH_EVERY


@pytest.fixture
def bob(store: Store, actor: Actor) -> str:
    store.users.create(actor, "bob", "hash")
    return "bob"


def test_token_digest_is_sha256_hex() -> None:
    assert token_digest("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")


def test_create_find_and_list(store: Store, actor: Actor, bob: str) -> None:
    digest = token_digest("s3cret")
    token = store.tokens.create(actor, bob, "siem", digest, expires_at=None)
    assert (token.name, token.user, token.digest) == ("siem", "bob", digest)
    assert token.last_used_at is token.revoked_at is token.expires_at is None
    assert store.tokens.find(digest) == token
    assert store.tokens.find(token_digest("other")) is None
    assert store.tokens.all() == [token]
    assert store.tokens.all(user=bob) == [token]
    with pytest.raises(NotFound):
        store.tokens.all(user="nobody")


def test_only_the_digest_is_stored(store: Store, actor: Actor, bob: str) -> None:
    with pytest.raises(InvalidInput):
        store.tokens.create(actor, bob, "siem", "s3cret")
    with pytest.raises(InvalidInput):
        store.tokens.create(actor, bob, "siem", token_digest("x").upper())


def test_refusals(store: Store, actor: Actor, bob: str) -> None:
    digest = token_digest("s3cret")
    store.tokens.create(actor, bob, "siem", digest)
    with pytest.raises(AlreadyExists):
        store.tokens.create(actor, bob, "again", digest)
    with pytest.raises(NotFound):
        store.tokens.create(actor, "nobody", "siem", token_digest("y"))
    with pytest.raises(NotFound):
        store.tokens.revoke(actor, 999_999)
    assert len(store.tokens.all()) == 1


def test_expired_revoked_and_disabled_tokens_are_not_found(store: Store, actor: Actor,
                                                           bob: str) -> None:
    expiring = store.tokens.create(actor, bob, "a", token_digest("a"), expires_at=1000.0)
    assert store.tokens.find(expiring.digest, at=999.0) == expiring
    assert store.tokens.find(expiring.digest, at=1000.0) is None
    assert store.tokens.find(expiring.digest) is None

    revoked = store.tokens.create(actor, bob, "b", token_digest("b"))
    after = store.tokens.revoke(actor, revoked.id)
    assert after.revoked_at is not None
    assert store.tokens.revoke(actor, revoked.id).revoked_at == after.revoked_at
    assert store.tokens.find(revoked.digest) is None

    live = store.tokens.create(actor, bob, "c", token_digest("c"))
    store.users.update(actor, bob, disabled=True)
    assert store.tokens.find(live.digest) is None
    store.users.update(actor, bob, disabled=False)
    assert store.tokens.find(live.digest) == live


def test_touch_records_use_at_most_once_a_minute(store: Store, actor: Actor,
                                                 bob: str) -> None:
    token = store.tokens.create(actor, bob, "siem", token_digest("t"))
    store.tokens.touch(token.id, at=5000.0)
    assert store.tokens.all()[0].last_used_at == 5000.0
    store.tokens.touch(token.id, at=5000.0 + TOUCH_EVERY / 2)
    assert store.tokens.all()[0].last_used_at == 5000.0
    store.tokens.touch(token.id, at=5000.0 + TOUCH_EVERY)
    assert store.tokens.all()[0].last_used_at == 5000.0 + TOUCH_EVERY
    store.tokens.touch(999_999)  # a token deleted meanwhile: nothing to do
    assert [e.action for e in store.audit.search(action="token.").items] == ["token.create"]
