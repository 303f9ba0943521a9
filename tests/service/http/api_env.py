"""The management API in process over a real store and a real snapshot.

    env = ApiEnv.create(tmp_path)                 # SQLite in tmp_path (or a PostgreSQL URL)
    async with env.client() as client:
        r = await client.get("/api/v1/feeds", headers=env.basic("root"))

Users (one password hash made once per test session, argon2 is slow by design):

| user  | role          | tenant  |
|-------|---------------|---------|
| root  | Administrator | General |
| alice | Analyst       | General |
| bob   | Analyst       | Acme    |
| dave  | Analyst       | General (disabled by the tests that need it) |

The snapshot is the demo feeds in memory (version 3); the InternalTI and
FalsePositive lists come from the store through a ``ListsFollower`` refreshed
before every API lookup, as the worker's follower would within a second.
"""

from __future__ import annotations

import asyncio
import base64
import functools
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from trapline.config import HttpSettings, Settings, demo_feeds
from trapline.feeds.formats import read_feed
from trapline.feeds.report import FeedReport
from trapline.index import Snapshot, SnapshotBuilder, build_memory_snapshot
from trapline.index.matcher import Matcher, MatchView
from trapline.security.login_limiter import LoginLimits
from trapline.security.passwords import hash_password
from trapline.security.tokens import new_token
from trapline.service.http.app import TraplineApp, create_app
from trapline.service.http.context import AppContext
from trapline.service.http.wiring import build_app_context
from trapline.service.lists import ListsFollower
from trapline.service.stats import Stats
from trapline.store import SYSTEM, Store, open_store

T = TypeVar("T")
PASSWORD = "correct horse battery"
ADDRESS = "192.0.2.10"
ORIGIN = "http://trapline"
USERS = {"root": ("Administrator", "General"), "alice": ("Analyst", "General"),
         "bob": ("Analyst", "Acme"), "dave": ("Analyst", "General")}


@functools.cache
def password_hash() -> str:
    return hash_password(PASSWORD)


@functools.cache
def demo_snapshot() -> Snapshot:
    builder = SnapshotBuilder()
    for feed in demo_feeds():
        builder.add_all(read_feed(Path(feed.source), feed, FeedReport()))
    return build_memory_snapshot(builder, version=3)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def basic_header(user: str, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@dataclass
class ApiEnv:
    store: Store
    context: AppContext
    app: TraplineApp
    data_dir: Path
    lists: ListsFollower
    tokens: dict[str, str]

    @classmethod
    def create(cls, data_dir: Path, store_target: str | Path | None = None, *,
               limits: LoginLimits | None = None) -> ApiEnv:
        store = open_store(store_target or data_dir)
        store.tenants.create(SYSTEM, "Acme")
        for name, (role, tenant) in USERS.items():
            store.users.create(SYSTEM, name, password_hash(), role=role, tenant=tenant)
        tokens = {}
        for name in ("root", "alice"):
            text, digest = new_token()
            store.tokens.create(SYSTEM, name, "tests", digest)
            tokens[name] = text
        settings = Settings(data_dir=data_dir,
                            http=HttpSettings(tls=False, listen="127.0.0.1:8443"))
        snapshot = demo_snapshot()
        lists = ListsFollower(store)
        lists.refresh()
        matcher = Matcher(lambda: snapshot, lists.get)
        context = build_app_context(settings, store, matcher.lookup_many, Stats(),
                                    lambda: snapshot.version, 1, limits=limits)

        def view(tenant: str) -> MatchView:
            lists.refresh()  # the worker's follower does this within a second
            return matcher.view(tenant)

        context.matcher_view = view
        return cls(store, context, create_app(context), data_dir, lists, tokens)

    def close(self) -> None:
        if self.context.feed_actions is not None:
            run(self.context.feed_actions.wait())
        self.store.close()

    def client(self, address: str = ADDRESS) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(address, 50000))
        return httpx.AsyncClient(transport=transport, base_url=ORIGIN)

    @staticmethod
    def basic(user: str, password: str = PASSWORD) -> dict[str, str]:
        return basic_header(user, password)

    def bearer(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def login(self, client: httpx.AsyncClient, user: str,
                    password: str = PASSWORD) -> dict[str, str]:
        """Log in with the client (its jar keeps the cookie); the headers a change needs."""
        response = await client.post("/api/v1/session", json={"user": user,
                                                               "password": password},
                                     headers={"Origin": ORIGIN})
        assert response.status_code == 200, response.text
        return {"Origin": ORIGIN, "X-CSRF-Token": response.json()["csrf_token"]}

    def audit_count(self) -> int:
        return len(self.store.audit.search(limit=1000).items)
