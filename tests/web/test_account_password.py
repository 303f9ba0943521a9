"""A password set for a user (the first admin, an administrator's reset) must be changed
before any other page opens; the change ends the user's other sessions."""

from __future__ import annotations

import time
from typing import Any

from api_env import ORIGIN, PASSWORD, run
from pages import TOKEN, sign_in

from trapline.security.passwords import verify_password
from trapline.store import SYSTEM


async def form_token(client: Any, path: str) -> str:
    page = await client.get(path)
    found = TOKEN.search(page.text)
    assert found, page.text[:300]
    return found.group(1)


def test_a_forced_change_comes_first_and_then_everything_opens(env: Any) -> None:
    env.store.users.update(SYSTEM, "alice", must_change_password=True)
    new = "a much better passphrase"

    async def go() -> None:
        async with env.client() as client, env.client() as other:
            signed = await client.post("/login", data={"user": "alice", "password": PASSWORD},
                                       headers={"Origin": ORIGIN})
            assert signed.status_code == 303
            await other.post("/login", data={"user": "alice", "password": PASSWORD},
                             headers={"Origin": ORIGIN})
            for path in ("/", "/lookup", "/indicators?value=192.0.2.1"):
                page = await client.get(path)
                assert page.status_code == 303 and page.headers["location"] == \
                    "/account/password", path
            form = await client.get("/account/password")
            assert form.status_code == 200 and "choose your own" in form.text
            token = await form_token(client, "/account/password")
            refused = await client.post("/lookup", data={"csrf_token": token, "value": "x"},
                                        headers={"Origin": ORIGIN})
            assert refused.status_code == 403
            for fields, status, message in (
                    ({"current": PASSWORD, "new": new, "again": new + "x"}, 400, "differ"),
                    ({"current": PASSWORD, "new": "short", "again": "short"}, 400, "at least"),
                    ({"current": "wrong", "new": new, "again": new}, 403, "wrong")):
                answer = await client.post("/account/password",
                                           data={"csrf_token": token, **fields},
                                           headers={"Origin": ORIGIN})
                assert answer.status_code == status and message in answer.text
            time.sleep(1.1)  # sessions carry their login second
            changed = await client.post("/account/password", data={
                "csrf_token": token, "current": PASSWORD, "new": new, "again": new},
                headers={"Origin": ORIGIN})
            assert changed.status_code == 303 and changed.headers["location"] == "/"
            env.context.authenticator.forget()  # the 1 s user cache
            assert (await client.get("/lookup")).status_code == 200
            assert (await other.get("/lookup")).status_code == 303  # that session ended

    run(go())
    user = env.store.users.get("alice")
    assert not user.must_change_password
    stored = env.store.users.password_hash("alice")
    assert stored is not None and verify_password(stored, new)


def test_apply_now_asks_for_a_reload_and_only_administrators_may(env: Any) -> None:
    asked: list[int] = []
    env.context.request_reload = lambda: asked.append(1)

    async def go() -> None:
        async with env.client() as client:
            token = await sign_in(client, "root")
            page = await client.get("/settings")
            assert "Apply now" not in page.text  # nothing waits yet
            applied = await client.post("/settings/apply", data={"csrf_token": token},
                                        headers={"Origin": ORIGIN})
            assert applied.status_code == 303 and asked == [1]
        async with env.client() as client:
            token = await sign_in(client, "alice")
            refused = await client.post("/settings/apply", data={"csrf_token": token},
                                        headers={"Origin": ORIGIN})
            assert refused.status_code == 403 and asked == [1]

    run(go())
    env.context.request_reload = None

    async def outside_serve() -> None:
        async with env.client() as client:
            token = await sign_in(client, "root")
            answer = await client.post("/settings/apply", data={"csrf_token": token},
                                       headers={"Origin": ORIGIN})
            assert answer.status_code == 503 and "nothing to reload" in answer.text

    run(outside_serve())
