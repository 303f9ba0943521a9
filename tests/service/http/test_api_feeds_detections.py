"""Feeds through the API (state, update now, switch off and on) and detections (search,
paging, statistics, timeline), each in its tenant."""

from __future__ import annotations

import fcntl
import threading

import pytest
from api_env import ApiEnv, run

from trapline.index import SnapshotCatalog
from trapline.service.feed_actions import FeedActions
from trapline.store import DetectionInput

FEED = "Demo_IP_Reputation.json"


def current_feeds(env: ApiEnv) -> list[str]:
    return SnapshotCatalog(env.data_dir).open_current().meta.feeds


def test_update_a_feed_now_then_switch_it_off_and_on(env: ApiEnv) -> None:
    root, alice = env.basic("root"), env.basic("alice")
    actions = env.context.feed_actions
    assert actions is not None

    async def go() -> None:
        async with env.client() as client:
            listed = (await client.get("/api/v1/feeds", headers=alice)).json()
            assert {f["name"] for f in listed} == {"Demo_Botnet_CnC_URL.json", FEED,
                                                   "Demo_Malicious_Hash.json"}
            assert all(f["enabled"] and not f["updating"] for f in listed)
            assert (await client.post(f"/api/v1/feeds/{FEED}/update",
                                      headers=alice)).status_code == 403
            assert (await client.post("/api/v1/feeds/Nope/update",
                                      headers=root)).status_code == 404
            # Another process holds the data directory's feed lock: busy.
            lock = env.data_dir / "feeds" / ".lock"
            lock.parent.mkdir(parents=True, exist_ok=True)
            with open(lock, "w") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                busy = await client.post(f"/api/v1/feeds/{FEED}/update", headers=root)
                assert busy.status_code == 409 and "running" in busy.json()[0]["reason"]
                shown = (await client.get(f"/api/v1/feeds/{FEED}", headers=alice)).json()
                assert shown["updating"]
            response = await client.post(f"/api/v1/feeds/{FEED}/update", headers=root)
            assert response.status_code == 202
            job = response.json()
            assert job == {"feed": FEED, "status": "updating",
                           "status_url": f"/api/v1/feeds/{FEED}"}
            assert response.headers["location"] == job["status_url"]
            await actions.wait()
            state = (await client.get(job["status_url"], headers=alice)).json()
            assert state["last_success"] and state["records"] == 3 and state["snapshot"] >= 1
            assert not state["updating"] and state["last_error"] == ""
            assert current_feeds(env) == [FEED]
            # Off: the snapshot is rebuilt without it; an update is refused.
            response = await client.post(f"/api/v1/feeds/{FEED}/disable", headers=root)
            assert response.status_code == 202 and response.json()["enabled"] is False
            assert response.json()["configured_enabled"] is True
            await actions.wait()
            assert current_feeds(env) == []
            refused = await client.post(f"/api/v1/feeds/{FEED}/update", headers=root)
            assert refused.status_code == 409 and "disabled" in refused.json()[0]["reason"]
            # On again: its kept records come back at once, without fetching.
            response = await client.post(f"/api/v1/feeds/{FEED}/enable", headers=root)
            assert response.json()["enabled"] is True
            await actions.wait()
            assert current_feeds(env) == [FEED]
            # A feed never updated is updated when switched on.
            other = "Demo_Malicious_Hash.json"
            await client.post(f"/api/v1/feeds/{other}/disable", headers=root)
            await actions.wait()
            await client.post(f"/api/v1/feeds/{other}/enable", headers=root)
            await actions.wait()
            assert sorted(current_feeds(env)) == [FEED, other]

    run(go())
    actions_log = [a.action for a in env.store.audit.search(action="feed.").items]
    assert actions_log == ["feed.enable", "feed.disable", "feed.enable", "feed.disable"]


def test_a_second_update_while_one_runs_is_409(env: ApiEnv,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    started = threading.Event()

    def slow(self: FeedActions, name: str, sink: object) -> None:
        started.set()
        release.wait(10)

    monkeypatch.setattr(FeedActions, "_update", slow)
    root = env.basic("root")

    async def go() -> None:
        async with env.client() as client:
            first = await client.post(f"/api/v1/feeds/{FEED}/update", headers=root)
            assert first.status_code == 202
            second = await client.post("/api/v1/feeds/Demo_Malicious_Hash.json/update",
                                       headers=root)
            assert second.status_code == 409
            listed = (await client.get("/api/v1/feeds", headers=root)).json()
            assert all(f["updating"] for f in listed)
            release.set()
            assert env.context.feed_actions is not None
            await env.context.feed_actions.wait()
            again = await client.post(f"/api/v1/feeds/{FEED}/update", headers=root)
            assert again.status_code == 202
            await env.context.feed_actions.wait()

    run(go())
    assert started.is_set()


def detection(i: int, tenant: str = "General", **fields: object) -> DetectionInput:
    values = {"detection_id": f"{tenant}-{i}", "time": 1_800_000_000.0 + i * 60,
              "observable": f"203.0.113.{i}", "indicator": f"203.0.113.{i}",
              "category": "C2" if i % 2 else "Spam", "feed": "Demo_IP_Reputation.json",
              "source": "kuma", "tenant": tenant, **fields}
    return DetectionInput(**values)  # type: ignore[arg-type]


def test_detections_search_stats_timeline(env: ApiEnv) -> None:
    env.store.detections.add([detection(i) for i in range(10)] +
                             [detection(i, "Acme") for i in range(3)])
    alice, bob = env.basic("alice"), env.basic("bob")

    async def go() -> None:
        async with env.client() as client:
            page = (await client.get("/api/v1/detections?limit=4", headers=alice)).json()
            assert [d["observable"] for d in page["items"]] == [
                "203.0.113.9", "203.0.113.8", "203.0.113.7", "203.0.113.6"]
            seen = [d["id"] for d in page["items"]]
            while page["next_cursor"]:
                page = (await client.get(f"/api/v1/detections?limit=4&cursor="
                                         f"{page['next_cursor']}", headers=alice)).json()
                seen += [d["id"] for d in page["items"]]
            assert len(seen) == len(set(seen)) == 10
            # ISO 8601 and epoch seconds; [from, to).
            ranged = (await client.get(
                "/api/v1/detections?from=2027-01-15T08:03:00Z&to=1800000300",
                headers=alice)).json()
            assert [d["observable"] for d in ranged["items"]] == ["203.0.113.4", "203.0.113.3"]
            c2 = (await client.get("/api/v1/detections?category=C2&indicator=113.1",
                                   headers=alice)).json()
            assert [d["observable"] for d in c2["items"]] == ["203.0.113.1"]
            stats = (await client.get("/api/v1/detections/stats?by=category",
                                      headers=alice)).json()
            assert stats == [{"key": "C2", "count": 5}, {"key": "Spam", "count": 5}]
            assert (await client.get("/api/v1/detections/stats?by=feed",
                                     headers=bob)).json() == [
                {"key": "Demo_IP_Reputation.json", "count": 3}]
            timeline = (await client.get(
                "/api/v1/detections/timeline?from=1800000000&to=1800000600&bucket=300",
                headers=alice)).json()
            assert timeline == [{"key": 1800000000.0, "count": 5},
                                {"key": 1800000300.0, "count": 5}]
            acme = (await client.get("/api/v1/detections", headers=bob)).json()
            assert {d["tenant"] for d in acme["items"]} == {"Acme"}
            assert len(acme["items"]) == 3
            assert (await client.get("/api/v1/detections?tenant=General",
                                     headers=bob)).status_code == 403
            for bad in ("/api/v1/detections?from=soon", "/api/v1/detections?limit=0",
                        "/api/v1/detections?cursor=x", "/api/v1/detections/stats?by=user",
                        "/api/v1/detections/timeline?from=1800000600&to=1800000000",
                        "/api/v1/detections/timeline?from=0&to=1800000000&bucket=1"):
                response = await client.get(bad, headers=alice)
                assert response.status_code == 400, bad
                assert response.json()[0]["status"] == "error"

    run(go())


def test_the_scheduler_honours_the_store_switch(env: ApiEnv) -> None:
    from trapline.alerts import CollectedAlerts
    from trapline.service.feed_actions import make_updater
    from trapline.store import SYSTEM

    settings = env.context.settings
    assert settings is not None
    updater = make_updater(settings, env.store, CollectedAlerts())
    assert FEED in updater.due()
    env.store.feeds.set_enabled(SYSTEM, FEED, False)
    assert FEED not in updater.due()
    results = updater.update()
    assert FEED not in {r.name for r in results} and FEED not in current_feeds(env)
    env.store.feeds.set_enabled(SYSTEM, FEED, True)
    assert FEED in updater.due()
