"""CSRF: a change made with a session cookie needs the same origin and the session's token;
Basic and Bearer requests carry no ambient credentials and need neither; GET changes
nothing anywhere."""

from __future__ import annotations

import re

from api_env import ORIGIN, ApiEnv, run

from trapline.service.http.operations import Operation
from trapline.store import SYSTEM, DetectionInput, IndicatorInput

EVIL = "https://evil.example"
VALUE = "198.51.100.77"


def internal_ti(env: ApiEnv) -> list[str]:
    return [i.value for i in env.store.list_entries("InternalTI")]


def test_a_cookie_change_needs_the_same_origin_and_the_token(env: ApiEnv) -> None:
    body = [{"value": VALUE}]

    async def go() -> None:
        async with env.client() as client:
            headers = await env.login(client, "alice")
            token = headers["X-CSRF-Token"]
            refused = [
                ({"Origin": EVIL, "X-CSRF-Token": token}, "cross-origin request from Origin"),
                ({"Origin": ORIGIN}, "missing CSRF token"),
                ({"X-CSRF-Token": token}, "no Origin or Referer header"),
                ({"Origin": "null", "X-CSRF-Token": token}, "Origin is null"),
                ({"Referer": f"{EVIL}/page", "X-CSRF-Token": token}, "Referer"),
                ({"Origin": ORIGIN, "X-CSRF-Token": token[:-2] + "xx"}, "does not belong"),
            ]
            for extra, reason in refused:
                response = await client.post("/api/v1/lists/InternalTI", json=body,
                                             headers=extra)
                assert response.status_code == 403, (extra, response.text)
                assert reason in response.json()[0]["reason"]
                assert internal_ti(env) == []
            # Another session's token is no good either.
            async with env.client() as other:
                foreign = (await env.login(other, "root"))["X-CSRF-Token"]
            response = await client.post("/api/v1/lists/InternalTI", json=body,
                                         headers={"Origin": ORIGIN, "X-CSRF-Token": foreign})
            assert response.status_code == 403 and internal_ti(env) == []
            # A DELETE and a PATCH are changes too.
            response = await client.delete("/api/v1/session", headers={"Origin": EVIL})
            assert response.status_code == 403
            assert (await client.get("/api/v1/session")).status_code == 200  # still signed in
            # Same origin with the token: done; by Referer alone too.
            response = await client.post("/api/v1/lists/InternalTI", json=body, headers=headers)
            assert response.status_code == 200 and internal_ti(env) == [VALUE]
            response = await client.post(
                "/api/v1/lists/InternalTI", json=[{"value": "198.51.100.78"}],
                headers={"Referer": f"{ORIGIN}/lists", "X-CSRF-Token": token})
            assert response.status_code == 200
            entry = env.store.indicators.get("InternalTI", VALUE)
            assert entry.added_by == "alice"

    run(go())


def test_basic_and_bearer_requests_need_no_csrf_token(env: ApiEnv) -> None:
    async def go() -> None:
        async with env.client() as client:
            for headers in (env.basic("alice"), env.bearer("alice")):
                response = await client.post("/api/v1/lists/InternalTI", json=[{"value": VALUE}],
                                             headers={**headers, "Origin": EVIL})
                assert response.status_code == 200, response.text

    run(go())
    assert internal_ti(env) == [VALUE]


def test_the_login_form_gets_the_origin_check(env: ApiEnv) -> None:
    async def go() -> None:
        async with env.client() as client:
            form = {"user": "alice", "password": "correct horse battery"}
            response = await client.post("/api/v1/session", data=form,
                                         headers={"Origin": EVIL})
            assert response.status_code == 403
            assert "set-cookie" not in response.headers
            response = await client.post("/api/v1/session", data=form,
                                         headers={"Origin": ORIGIN})
            assert response.status_code == 200 and response.json()["csrf_token"]

    run(go())


def samples(env: ApiEnv) -> dict[str, str]:
    """Path parameters that name objects that exist, so GETs reach the store."""
    env.store.tags.create(SYSTEM, "apt", color="#aa0000")
    env.store.suppliers.create(SYSTEM, "ExampleSupplier")
    env.store.settings.set(SYSTEM, "ui.theme", "dark")
    env.store.indicators.put(SYSTEM, "InternalTI", [IndicatorInput(value=VALUE)])
    env.store.detections.add([DetectionInput(detection_id="d1", time=1.8e9,
                                             observable=VALUE, indicator=VALUE,
                                             category="C2")])
    return {"version": "1.2", "tenant": "General", "supplier": "ExampleSupplier",
            "tag": "apt", "name": "alice", "key": "ui.theme", "id": "1",
            "value": VALUE}


def test_no_get_changes_anything(env: ApiEnv) -> None:
    values = samples(env)
    name = env.context.cookie_policy.cookie_name
    feeds = [f.name for f in env.context.feed_actions.feeds.values()]  # type: ignore[union-attr]

    def state() -> tuple[object, ...]:
        store = env.store
        return (env.audit_count(), store.lists_version(), store.users.all(),
                store.settings.all(), store.feeds.all(), store.tags.all(),
                [(t.id, t.revoked_at) for t in store.tokens.all()],
                store.lookups.recent("root"), store.lookups.recent("alice"))

    gets = [op for op in env.app.operations if op.method == "GET"]
    assert len(gets) >= 20

    def path(op: Operation) -> str:
        filled = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], op.path)
        return filled.replace("/feeds/alice", f"/feeds/{feeds[0]}")

    async def go() -> None:
        async with env.client() as client:
            await env.login(client, "root")
            cookie = client.cookies[name]
            client.cookies.clear()
            before = state()
            for op in gets:
                for headers in (env.basic("root"), {"Cookie": f"{name}={cookie}"}):
                    response = await client.get(path(op), headers=headers)
                    assert response.status_code == 200, (op.path, response.text)
                    client.cookies.clear()
            assert state() == before

    run(go())
