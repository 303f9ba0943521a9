"""Fixtures of the HTTP face tests: the demo feeds in a memory snapshot, an app in
process (users from http_unit.py), and the management API over a real store."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from http_unit import Call, Lookups, authenticate

from trapline.config import demo_feeds
from trapline.feeds.formats import read_feed
from trapline.feeds.report import FeedReport
from trapline.index import Snapshot, SnapshotBuilder, build_memory_snapshot
from trapline.service.http import AppContext, create_app
from trapline.service.stats import Stats


@pytest.fixture(scope="session")
def demo_snapshot() -> Snapshot:
    builder = SnapshotBuilder()
    for feed in demo_feeds():
        builder.add_all(read_feed(Path(feed.source), feed, FeedReport()))
    return build_memory_snapshot(builder, version=3)


@pytest.fixture
def lookups(demo_snapshot: Snapshot) -> Lookups:
    return Lookups(demo_snapshot)


@pytest.fixture
def context(lookups: Lookups, demo_snapshot: Snapshot) -> AppContext:
    return AppContext(lookup_many=lookups, authenticate_basic=authenticate, stats=Stats(),
                      snapshot_version=lambda: demo_snapshot.version, worker=1)




@pytest.fixture
def call(context: AppContext) -> Iterator[Call]:
    """``call(method, path, **httpx_kwargs)``: one request to a fresh app, in process."""
    app = create_app(context)

    def request(method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def run() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://trapline") as c:
                return await c.request(method, path, **kwargs)

        return asyncio.run(run())

    yield request


# -- the management API over a real store (api_env.py) -----------------------------------


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Any]:
    from api_env import ApiEnv

    api = ApiEnv.create(tmp_path)
    yield api
    api.close()
