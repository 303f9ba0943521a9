"""Ending sessions: a password change or "sign out everywhere" voids every earlier cookie."""

from __future__ import annotations

import time

from api_env import PASSWORD, ApiEnv, run

from trapline.security.passwords import hash_password
from trapline.store import SYSTEM


def test_a_password_change_ends_other_sessions_and_renews_this_one(env: ApiEnv) -> None:
    async def go() -> None:
        async with env.client() as laptop, env.client() as phone:
            laptop_headers = await env.login(laptop, "alice")
            await env.login(phone, "alice")
            time.sleep(1.1)  # sessions carry their login second
            changed = await laptop.post("/api/v1/session/password", headers=laptop_headers,
                                        json={"current": PASSWORD, "new": "a new secret"})
            assert changed.status_code == 204, changed.text
            assert "set-cookie" in changed.headers  # the laptop's session is renewed
            env.context.authenticator.forget()  # the 1 s user cache
            assert (await laptop.get("/api/v1/session")).status_code == 200
            ended = await phone.get("/api/v1/session")
            assert ended.status_code == 401
            assert "session was ended" in ended.json()[0]["reason"]

    run(go())


def test_sign_out_everywhere_and_an_administrator_reset(env: ApiEnv) -> None:
    async def go() -> None:
        async with env.client() as one, env.client() as two:
            headers = await env.login(one, "alice")
            await env.login(two, "alice")
            time.sleep(1.1)
            other = await one.post("/api/v1/session/end-all", headers=headers,
                                   json={"user": "root"})
            assert other.status_code == 403  # another user's sessions: users.manage
            assert (await one.post("/api/v1/session/end-all", headers=headers,
                                   json={"user": "alice"})).status_code == 204
            env.context.authenticator.forget()  # the 1 s user cache
            assert (await two.get("/api/v1/session")).status_code == 401
            assert (await one.get("/api/v1/session")).status_code == 401
            # A new sign-in works again.
            await env.login(one, "alice")
            assert (await one.get("/api/v1/session")).status_code == 200
            time.sleep(1.1)
            env.store.users.set_password(SYSTEM, "alice", hash_password("reset by admin"))
            env.context.authenticator.forget()  # the 1 s user cache
            assert (await one.get("/api/v1/session")).status_code == 401

    run(go())
    audit = env.store.audit.search(action="user.sessions_end").items
    assert [(a.target, a.actor) for a in audit] == [("alice", "alice")]


def test_a_remembered_basic_password_stops_working_once_changed(env: ApiEnv) -> None:
    """Basic successes are remembered for auth_cache_seconds; a password change ends that."""
    old = env.basic("alice")

    async def go() -> None:
        async with env.client() as client:
            assert (await client.get("/api/v1/feeds", headers=old)).status_code == 200
            assert (await client.post("/api/1.1/lookup", headers=old,
                                      json=[{"object": "192.0.2.1"}])).status_code == 200
            time.sleep(0.05)
            env.store.users.set_password(SYSTEM, "alice", hash_password("changed"))
            env.context.authenticator.forget()  # the 1 s user cache
            assert (await client.get("/api/v1/feeds", headers=old)).status_code == 401
            assert (await client.post("/api/1.1/lookup", headers=old,
                                      json=[{"object": "192.0.2.1"}])).status_code == 401
            new = {"Authorization": "Basic " + __import__("base64").b64encode(
                b"alice:changed").decode()}
            assert (await client.get("/api/v1/feeds", headers=new)).status_code == 200

    run(go())
