"""The audit log: every change writes exactly one row, in its own transaction."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest

from trapline.store import (
    INTERNAL_TI,
    SYSTEM,
    Actor,
    AuditEntry,
    DetectionInput,
    DetectionQuery,
    IndicatorInput,
    InvalidInput,
    NotFound,
    Store,
    StoreError,
    token_digest,
)
from trapline.store import audit as audit_module

Call = Callable[[Store, Actor], object]


def _prepare(store: Store) -> None:
    """Objects the changes below work on, made by the system."""
    store.users.create(SYSTEM, "bob", "hash")
    store.tokens.create(SYSTEM, "bob", "siem", token_digest("t"))
    store.suppliers.create(SYSTEM, "Partners")
    store.suppliers.create(SYSTEM, "Spare", kind="feed")
    store.tags.create(SYSTEM, "apt")
    store.indicators.put(SYSTEM, INTERNAL_TI, [IndicatorInput(value="old.test"),
                                               IndicatorInput(value="tagged.test",
                                                              tags=("apt",))])
    store.feeds.record("Feodo", ok=True)
    store.settings.set(SYSTEM, "a", 1)


def _token(store: Store) -> int:
    return store.tokens.all()[0].id


# (repository, method, expected action, target, call): each call works on the prepared
# store, and after the calls above it.
CHANGES: list[tuple[str, str, str, str, Call]] = [
    ("tenants", "create", "tenant.create", "Acme", lambda s, a: s.tenants.create(a, "Acme")),
    ("users", "create", "user.create", "carol",
     lambda s, a: s.users.create(a, "carol", "hash")),
    ("users", "update", "user.update", "bob",
     lambda s, a: s.users.update(a, "bob", role="Administrator")),
    ("users", "set_password", "user.password", "bob",
     lambda s, a: s.users.set_password(a, "bob", "new")),
    ("users", "end_sessions", "user.sessions_end", "bob",
     lambda s, a: s.users.end_sessions(a, "bob")),
    ("tokens", "create", "token.create", "bob/cli",
     lambda s, a: s.tokens.create(a, "bob", "cli", token_digest("u"))),
    ("tokens", "revoke", "token.revoke", "bob/siem",
     lambda s, a: s.tokens.revoke(a, _token(s))),
    ("suppliers", "create", "supplier.create", "Other",
     lambda s, a: s.suppliers.create(a, "Other")),
    ("suppliers", "update", "supplier.update", "Partners",
     lambda s, a: s.suppliers.update(a, "Partners", new_name="Allies")),
    ("indicators", "put", "indicators.put", INTERNAL_TI,
     lambda s, a: s.indicators.put(a, INTERNAL_TI,
                                   [IndicatorInput(value="new.test", tags=("apt",))])),
    ("indicators", "tag", "indicators.tag", INTERNAL_TI,
     lambda s, a: s.indicators.tag(a, INTERNAL_TI, "old.test", "apt")),
    ("indicators", "untag", "indicators.untag", INTERNAL_TI,
     lambda s, a: s.indicators.untag(a, INTERNAL_TI, "tagged.test", "apt")),
    ("indicators", "delete", "indicators.delete", INTERNAL_TI,
     lambda s, a: s.indicators.delete(a, INTERNAL_TI, ["old.test"])),
    ("tags", "create", "tag.create", "crime", lambda s, a: s.tags.create(a, "crime")),
    ("tags", "update", "tag.update", "apt", lambda s, a: s.tags.update(a, "apt", color="")),
    ("feeds", "set_enabled", "feed.disable", "Feodo",
     lambda s, a: s.feeds.set_enabled(a, "Feodo", False)),
    ("settings", "set", "setting.set", "b", lambda s, a: s.settings.set(a, "b", 2)),
    ("detections", "purge", "detections.purge", "*",
     lambda s, a: s.detections.purge(a, 0.0)),
    ("tags", "delete", "tag.delete", "apt", lambda s, a: s.tags.delete(a, "apt")),
    ("suppliers", "delete", "supplier.delete", "Spare",
     lambda s, a: s.suppliers.delete(a, "Spare")),
    ("feeds", "forget", "feed.forget", "Feodo", lambda s, a: s.feeds.forget(a, "Feodo")),
    ("settings", "delete", "setting.delete", "a", lambda s, a: s.settings.delete(a, "a")),
    ("audit", "note", "service.restart", "service",
     lambda s, a: s.audit.note(a, "service.restart", "service", details={"listen": "x"})),
    ("users", "delete", "user.delete", "bob", lambda s, a: s.users.delete(a, "bob")),
]

# Changes refused: each writes nothing, its audit row included.
REFUSED: list[Call] = [
    lambda s, a: s.tenants.create(a, "General"),
    lambda s, a: s.users.create(a, "bob", "hash"),
    lambda s, a: s.users.update(a, "nobody", disabled=True),
    lambda s, a: s.users.update(a, "bob", role="Root"),
    lambda s, a: s.users.delete(a, "nobody"),
    lambda s, a: s.users.end_sessions(a, "nobody"),
    lambda s, a: s.tokens.revoke(a, 10**9),
    lambda s, a: s.tokens.create(a, "bob", "again", token_digest("t")),
    lambda s, a: s.suppliers.create(a, INTERNAL_TI),
    lambda s, a: s.suppliers.delete(a, INTERNAL_TI),
    lambda s, a: s.suppliers.update(a, INTERNAL_TI, new_name="X"),
    lambda s, a: s.indicators.put(a, INTERNAL_TI, [IndicatorInput(value="x", tags=("nope",))]),
    lambda s, a: s.indicators.put(a, INTERNAL_TI, [IndicatorInput(value="")]),
    lambda s, a: s.indicators.delete(a, "Nope", ["x"]),
    lambda s, a: s.tags.create(a, "apt"),
    lambda s, a: s.tags.delete(a, "nope"),
    lambda s, a: s.indicators.tag(a, INTERNAL_TI, "old.test", "nope"),
    lambda s, a: s.indicators.untag(a, INTERNAL_TI, "nope.test", "apt"),
    lambda s, a: s.feeds.forget(a, "nope"),
    lambda s, a: s.settings.delete(a, "nope"),
    lambda s, a: s.detections.purge(a, 0.0, tenant="Nope"),
]


def _all_audit(store: Store) -> list[AuditEntry]:
    return store.audit.search(limit=1000).items


def _takes_an_actor(fn: Callable[..., object]) -> bool:
    parameter = inspect.signature(fn).parameters.get("actor")
    return parameter is not None and parameter.annotation in (Actor, "Actor")


def test_every_change_is_in_the_table(store: Store) -> None:
    """A new method taking an actor needs a row in CHANGES."""
    mutating = {(name, method) for name, repo in vars(store).items()
                if not name.startswith("_") and hasattr(repo, "__dict__")
                for method, fn in inspect.getmembers(type(repo), inspect.isfunction)
                if _takes_an_actor(fn)}
    assert mutating == {(repo, method) for repo, method, *_ in CHANGES}


def test_each_change_writes_exactly_one_audit_row(store: Store, actor: Actor) -> None:
    _prepare(store)
    for _, _, action, target, call in CHANGES:
        before = _all_audit(store)
        call(store, actor)
        after = _all_audit(store)
        assert after[1:] == before, action
        row = after[0]
        assert (row.action, row.target, row.actor, row.address) == (
            action, target, actor.name, actor.address)


def test_a_refused_change_writes_no_audit_row(store: Store, actor: Actor) -> None:
    _prepare(store)
    before = _all_audit(store)
    for number, call in enumerate(REFUSED):
        with pytest.raises(StoreError):
            call(store, actor)
        assert _all_audit(store) == before, f"REFUSED[{number}]"


def test_a_change_whose_audit_row_fails_is_rolled_back(
        store: Store, actor: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit row is written in the change's transaction: when it fails, so does the
    change."""
    _prepare(store)

    def snapshot() -> object:
        return (store.tenants.all(), store.users.all(), store.tokens.all(),
                store.suppliers.all(), store.tags.all(), store.list_entries(INTERNAL_TI),
                store.lists_version(), store.feeds.all(), store.settings.all(),
                store.detections.count(DetectionQuery()), _all_audit(store))

    store.detections.add([DetectionInput(detection_id="d", time=0.0, observable="o",
                                         indicator="i", category="c")])
    before = snapshot()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the audit log is down")

    for _, _, action, _, call in CHANGES:
        monkeypatch.setattr(audit_module, "record", broken)
        with pytest.raises(RuntimeError):
            call(store, actor)
        monkeypatch.undo()
        assert snapshot() == before, action


def test_odd_actors_are_stored_cleaned(store: Store) -> None:
    odd = Actor(name="m\udcffx\x00" + "y" * 300, address="::ffff:192.0.2.1" + "z" * 100)
    store.settings.set(odd, "a", 1)
    entry = store.audit.search().items[0]
    assert entry.actor.startswith("m\ufffd") and len(entry.actor) == 200
    assert len(entry.address) == 64


def test_search_filters_and_paging(store: Store) -> None:
    store.tenants.create(SYSTEM, "Acme")
    alice, bob = Actor(name="alice", address="192.0.2.1"), Actor(name="bob")
    for n in range(12):
        store.tags.create(alice if n % 2 else bob, f"t{n}", tenant="Acme" if n < 4 else "General")
    store.settings.set(alice, "x", 1)
    search = store.audit.search
    assert len(search(limit=1000).items) == 15          # two tenant.create, 12 tags, 1 setting
    assert len(search(actor="alice").items) == 7
    assert len(search(action="tag.create").items) == 12
    assert len(search(action="tag.").items) == 12
    assert len(search(action="tag").items) == 0        # exact unless it ends with a dot
    assert [e.target for e in search(tenant="Acme").items] == ["t3", "t2", "t1", "t0", "Acme"]
    assert search(target="x").items[0].tenant is None
    first = search(limit=5)
    second = search(limit=5, cursor=first.next_cursor)
    third = search(limit=5, cursor=second.next_cursor)
    assert third.next_cursor is None and len(third.items) == 5
    ids = [e.id for p in (first, second, third) for e in p.items]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 15
    newest = first.items[0]
    assert search(start=newest.at).items[0] == newest
    assert newest not in search(end=newest.at).items
    with pytest.raises(InvalidInput):
        search(cursor="x")
    with pytest.raises(InvalidInput):
        search(limit=1001)
    with pytest.raises(NotFound):
        search(tenant="Nope")
