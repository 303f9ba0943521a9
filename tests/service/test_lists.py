"""ListsFollower: the store's InternalTI and FalsePositive reach lookups, per tenant."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from databases import postgres_database

from trapline.index import IndicatorRecord, build_memory_snapshot
from trapline.index.matcher import Matcher
from trapline.service.lists import ListsFollower
from trapline.service.stats import Stats
from trapline.store import Actor, open_store
from trapline.store.records import IndicatorInput

ANALYST = Actor(name="analyst", address="192.0.2.10")
SNAPSHOT = build_memory_snapshot([IndicatorRecord(value="noisy.example", feed="vendor",
                                                  category="Adware")], version=1)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield tmp_path / "data"
    else:
        with postgres_database() as url:
            yield url


def test_changes_reach_the_matcher_on_the_next_refresh(store_target: object) -> None:
    store = open_store(store_target)  # type: ignore[arg-type]
    try:
        lists = ListsFollower(store, Stats())
        matcher = Matcher(lambda: SNAPSHOT, lists.get)
        assert lists.refresh() is True
        assert lists.refresh() is False  # nothing moved: no reload
        assert not matcher.lookup_many(["198.51.100.7"])[0].detected

        store.indicators.put(ANALYST, "InternalTI", [IndicatorInput(
            value="198.51.100.7", category="Blocked", context={"ticket": "SEC-42"})])
        store.indicators.put(ANALYST, "FalsePositive", [IndicatorInput(value="noisy.example")])
        assert lists.refresh() is True
        verdict = matcher.lookup_many(["198.51.100.7"])[0]
        assert [(m.feed, m.category, m.context) for m in verdict.matches] == [
            ("InternalTI", "Blocked", {"ticket": "SEC-42"})]
        assert matcher.lookup_many(["a.noisy.example"])[0].matches == []

        store.indicators.delete(ANALYST, "FalsePositive", ["noisy.example"])
        lists.refresh()
        assert matcher.lookup_many(["a.noisy.example"])[0].detected
    finally:
        store.close()


def test_tenants_have_their_own_lists(tmp_path: Path) -> None:
    store = open_store(tmp_path / "data")
    try:
        store.tenants.create(ANALYST, "Branch")
        store.indicators.put(ANALYST, "InternalTI", [IndicatorInput(value="branch.example")],
                             tenant="Branch")
        lists = ListsFollower(store)
        lists.refresh()
        matcher = Matcher(lambda: SNAPSHOT, lists.get)
        assert matcher.lookup_many(["branch.example"], "Branch")[0].detected
        assert not matcher.lookup_many(["branch.example"])[0].detected
    finally:
        store.close()


def test_an_unreadable_store_leaves_the_lists_in_force(tmp_path: Path) -> None:
    store = open_store(tmp_path / "data")
    store.indicators.put(ANALYST, "InternalTI", [IndicatorInput(value="kept.example")])
    stats = Stats()
    lists = ListsFollower(store, stats, interval=0.01)
    lists.refresh()
    store.close()
    (tmp_path / "data" / "trapline.db").unlink()
    (tmp_path / "data" / "trapline.db").mkdir()  # the database file is gone: reads fail

    async def poll() -> None:
        task = asyncio.create_task(lists.run())
        await asyncio.sleep(0.2)
        task.cancel()

    asyncio.run(poll())
    assert stats.counters["lists_refresh_errors"] >= 1
    assert Matcher(lambda: SNAPSHOT, lists.get).lookup_many(["kept.example"])[0].detected
