"""The HTTP face in process: the demo feeds in a memory snapshot, users from a dict.

The users here stand in for the store's (issue 5), which is not wired yet; the
app only ever sees the ``authenticate_basic`` callable.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from trapline.config import demo_feeds
from trapline.feeds.formats import read_feed
from trapline.feeds.report import FeedReport
from trapline.index import Snapshot, SnapshotBuilder, build_memory_snapshot
from trapline.security.roles import Principal
from trapline.service.http import AppContext, create_app
from trapline.service.stats import Stats

USERS = {
    "kuma": ("kuma-secret", Principal(name="kuma", role="Analyst", tenant="General",
                                      via="password")),
    "acme": ("acme-secret", Principal(name="acme", role="Analyst", tenant="Acme",
                                      via="password")),
    "admin": ("admin-secret", Principal(name="admin", role="Administrator", tenant="General",
                                        via="password")),
    "nobody": ("nobody-secret", Principal(name="nobody", role="Guest", tenant="General",
                                          via="password")),
}


def authenticate(user: str, password: str) -> Principal | None:
    entry = USERS.get(user)
    if entry is None or not hmac.compare_digest(entry[0].encode(), password.encode()):
        return None
    return entry[1]


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


KUMA = basic("kuma", "kuma-secret")
ADMIN = basic("admin", "admin-secret")
ACME = basic("acme", "acme-secret")


@pytest.fixture(scope="session")
def demo_snapshot() -> Snapshot:
    builder = SnapshotBuilder()
    for feed in demo_feeds():
        builder.add_all(read_feed(Path(feed.source), feed, FeedReport()))
    return build_memory_snapshot(builder, version=3)


class Lookups:
    """``lookup_many(values, tenant)`` over the demo snapshot, remembering the calls."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.calls: list[tuple[int, str]] = []

    def __call__(self, values: list[str], tenant: str) -> list[Any]:
        self.calls.append((len(values), tenant))
        return self.snapshot.lookup_many(values)


@pytest.fixture
def lookups(demo_snapshot: Snapshot) -> Lookups:
    return Lookups(demo_snapshot)


@pytest.fixture
def context(lookups: Lookups, demo_snapshot: Snapshot) -> AppContext:
    return AppContext(lookup_many=lookups, authenticate_basic=authenticate, stats=Stats(),
                      snapshot_version=lambda: demo_snapshot.version, worker=1)


Call = Callable[..., httpx.Response]


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
