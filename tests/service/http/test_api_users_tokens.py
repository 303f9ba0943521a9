"""Sessions, users, API tokens, settings and the audit log, through the API."""

from __future__ import annotations

import time

from api_env import ORIGIN, PASSWORD, ApiEnv, run

from trapline.store import SYSTEM


def test_session_login_whoami_logout(env: ApiEnv) -> None:
    name = env.context.cookie_policy.cookie_name

    async def go() -> None:
        async with env.client() as client:
            response = await client.post("/api/v1/session", headers={"Origin": ORIGIN},
                                         data={"user": "alice", "password": PASSWORD})
            assert response.status_code == 200
            info = response.json()
            assert (info["user"], info["role"], info["tenant"], info["via"]) == (
                "alice", "Analyst", "General", "session")
            cookie = response.headers["set-cookie"]
            assert cookie.startswith(f"{name}=") and "HttpOnly" in cookie
            assert "SameSite=Lax" in cookie and response.headers["cache-control"] == "no-store"
            me = (await client.get("/api/v1/session")).json()
            assert me["via"] == "session" and me["csrf_token"]
            headers = {"Origin": ORIGIN, "X-CSRF-Token": me["csrf_token"]}
            response = await client.delete("/api/v1/session", headers=headers)
            assert response.status_code == 204
            assert f"{name}=;" in response.headers["set-cookie"]
            assert "Max-Age=0" in response.headers["set-cookie"]
            assert (await client.get("/api/v1/session")).status_code == 401
            wrong = await client.post("/api/v1/session", headers={"Origin": ORIGIN},
                                      json={"user": "alice", "password": "nope"})
            assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
            assert "www-authenticate" not in wrong.headers

    run(go())


def test_a_demotion_or_a_disable_applies_to_a_session_at_once(env: ApiEnv) -> None:
    async def go() -> None:
        async with env.client() as client:
            headers = await env.login(client, "root")
            assert (await client.get("/api/v1/users")).status_code == 200
            async with env.client() as admin:
                await admin.post("/api/v1/users", headers=env.basic("root"), json={
                    "name": "second", "password": "second secret",
                    "role": "Administrator"})
                response = await admin.patch("/api/v1/users/root", json={"role": "Analyst"},
                                             headers=env.basic("second", "second secret"))
                assert response.status_code == 200
            response = await client.get("/api/v1/users")
            assert response.status_code == 403  # the cookie still says Administrator
            me = (await client.get("/api/v1/session")).json()
            assert me["role"] == "Analyst"
            env.store.users.update(SYSTEM, "root", disabled=True)
            env.context.authenticator.forget("root")  # type: ignore[union-attr]  # 1 s later
            assert (await client.get("/api/v1/session")).status_code == 401
            response = await client.post("/api/v1/lists/InternalTI", headers=headers,
                                         json=[{"value": "192.0.2.200"}])
            assert response.status_code == 401

    run(go())


def test_users_create_change_reset_delete(env: ApiEnv) -> None:
    root = env.basic("root")

    async def go() -> None:
        async with env.client() as client:
            response = await client.post("/api/v1/users", headers=root, json={
                "name": "kuma", "password": "kuma secret", "tenant": "Acme"})
            assert response.status_code == 201
            assert response.json()["role"] == "Analyst" and response.json()["tenant"] == "Acme"
            assert response.headers["location"] == "/api/v1/users/kuma"
            again = await client.post("/api/v1/users", headers=root, json={
                "name": "kuma", "password": "x"})
            assert again.status_code == 409
            bad = await client.post("/api/v1/users", headers=root, json={
                "name": "x", "password": "y", "role": "Guest"})
            assert bad.status_code == 400 and "$.role" in bad.json()[0]["reason"]
            kuma = env.basic("kuma", "kuma secret")
            assert (await client.get("/api/v1/session", headers=kuma)).json()["tenant"] == "Acme"
            # A reset: the old password stops at once (the cache of checked passwords is
            # cleared), the new one works.
            response = await client.patch("/api/v1/users/kuma", headers=root,
                                          json={"password": "new kuma secret",
                                                "must_change_password": True})
            assert response.status_code == 200 and response.json()["must_change_password"]
            assert (await client.get("/api/v1/session", headers=kuma)).status_code == 401
            new = env.basic("kuma", "new kuma secret")
            assert (await client.get("/api/v1/session", headers=new)).json()[
                "must_change_password"]
            response = await client.patch("/api/v1/users/kuma", headers=root,
                                          json={"disabled": True})
            assert response.json()["disabled"]
            assert (await client.get("/api/v1/session", headers=new)).status_code == 401
            listed = (await client.get("/api/v1/users?tenant=Acme", headers=root)).json()
            assert [u["name"] for u in listed] == ["bob", "kuma"]
            assert (await client.delete("/api/v1/users/kuma", headers=root)).status_code == 204
            assert (await client.get("/api/v1/users/kuma", headers=root)).status_code == 404
            # The service can always be managed.
            for change in ({"role": "Analyst"}, {"disabled": True}):
                response = await client.patch("/api/v1/users/root", headers=root, json=change)
                assert response.status_code == 409
                assert "last enabled Administrator" in response.json()[0]["reason"]
            assert (await client.delete("/api/v1/users/root", headers=root)).status_code == 409
            # One's own password, with the current one.
            alice = env.basic("alice")
            response = await client.post("/api/v1/session/password", headers=alice,
                                         json={"current": "wrong", "new": "alice 2"})
            assert response.status_code == 403
            response = await client.post("/api/v1/session/password", headers=alice,
                                         json={"current": PASSWORD, "new": "alice 2"})
            assert response.status_code == 204
            assert (await client.get("/api/v1/session",
                                     headers=env.basic("alice", "alice 2"))).status_code == 200

    run(go())
    actions = [(a.actor, a.address, a.action) for a in env.store.audit.search(
        action="user.", limit=100).items]
    assert ("root", "192.0.2.10", "user.create") in actions
    assert ("root", "192.0.2.10", "user.password") in actions
    assert ("alice", "192.0.2.10", "user.password") in actions
    assert all("hash" not in str(a.details) for a in env.store.audit.search(limit=100).items)


def test_tokens_own_list_revoke(env: ApiEnv) -> None:
    async def go() -> None:
        async with env.client() as client:
            alice = env.basic("alice")
            response = await client.post("/api/v1/tokens", headers=alice,
                                         json={"name": "siem", "expires_in_days": 30})
            assert response.status_code == 201
            made = response.json()
            assert made["token"].startswith("tl_") and made["user"] == "alice"
            assert made["expires_at"] > time.time() + 29 * 86400
            bearer = {"Authorization": f"Bearer {made['token']}"}
            me = (await client.get("/api/v1/session", headers=bearer)).json()
            assert (me["user"], me["via"]) == ("alice", "token")
            listed = (await client.get("/api/v1/tokens", headers=alice)).json()
            assert {t["name"] for t in listed} == {"tests", "siem"}
            assert all("token" not in t and "digest" not in t for t in listed)
            # Another's tokens: only with tokens.manage; revoking one is "not found".
            assert (await client.get("/api/v1/tokens?user=root",
                                     headers=alice)).status_code == 403
            roots = (await client.get("/api/v1/tokens?user=root",
                                      headers=env.basic("root"))).json()
            response = await client.delete(f"/api/v1/tokens/{roots[0]['id']}", headers=alice)
            assert response.status_code == 404
            assert (await client.get("/api/v1/session",
                                     headers=env.bearer("root"))).status_code == 200
            # Lookups take tokens too.
            response = await client.post("/api/1.1/lookup", headers=bearer,
                                         json=[{"object": "192.0.2.1"}])
            assert response.status_code == 200
            response = await client.delete(f"/api/v1/tokens/{made['id']}", headers=alice)
            assert response.status_code == 204
            assert (await client.get("/api/v1/session", headers=bearer)).status_code == 401
            response = await client.post("/api/1.1/lookup", headers=bearer,
                                         json=[{"object": "192.0.2.1"}])
            assert response.status_code == 401
            bogus = {"Authorization": "Bearer tl_" + "A" * 43}
            assert (await client.get("/api/v1/session", headers=bogus)).status_code == 401
            assert (await client.get("/api/v1/session", headers={
                "Authorization": "Bearer not-a-token"})).status_code == 401
            # An administrator revokes anyone's.
            response = await client.delete(f"/api/v1/tokens/{roots[0]['id']}",
                                           headers=env.basic("root"))
            assert response.status_code == 204

    run(go())
    assert env.store.tokens.all(user="alice")[-1].revoked_at is not None


def test_settings_secrets_are_masked(env: ApiEnv) -> None:
    root = env.basic("root")

    async def go() -> None:
        async with env.client() as client:
            response = await client.put("/api/v1/settings/ui.theme", headers=root,
                                        json={"value": {"dark": True}})
            assert response.status_code == 200 and response.json()["value"] == {"dark": True}
            await client.put("/api/v1/settings/misp.api_key", headers=root,
                             json={"value": "very secret"})
            listed = {s["key"]: s["value"] for s in
                      (await client.get("/api/v1/settings", headers=root)).json()}
            assert listed == {"ui.theme": {"dark": True}, "misp.api_key": "***"}
            shown = (await client.get("/api/v1/settings/misp.api_key", headers=root)).json()
            assert shown["value"] == "***" and shown["updated_by"] == "root"
            assert (await client.delete("/api/v1/settings/ui.theme",
                                        headers=root)).status_code == 204
            assert (await client.get("/api/v1/settings/ui.theme",
                                     headers=root)).status_code == 404
            assert (await client.delete("/api/v1/settings/ui.theme",
                                        headers=root)).status_code == 404
            assert (await client.put("/api/v1/settings/x", headers=root,
                                     json={"nope": 1})).status_code == 400

    run(go())
    assert env.store.settings.get("misp.api_key") == "very secret"


def test_audit_pages_newest_first(env: ApiEnv) -> None:
    root = env.basic("root")

    async def go() -> None:
        async with env.client() as client:
            for i in range(5):
                await client.put(f"/api/v1/settings/k{i}", headers=root, json={"value": i})
            first = (await client.get("/api/v1/audit?action=setting.&limit=3",
                                      headers=root)).json()
            assert [e["target"] for e in first["items"]] == ["k4", "k3", "k2"]
            assert all(e["actor"] == "root" and e["address"] == "192.0.2.10"
                       for e in first["items"])
            rest = (await client.get(f"/api/v1/audit?action=setting.&limit=3&cursor="
                                     f"{first['next_cursor']}", headers=root)).json()
            assert [e["target"] for e in rest["items"]] == ["k1", "k0"]
            assert rest["next_cursor"] is None
            bad = await client.get("/api/v1/audit?cursor=nope", headers=root)
            assert bad.status_code == 400 and bad.json()[0]["status"] == "error"
            assert (await client.get("/api/v1/audit?from=yesterday",
                                     headers=root)).status_code == 400
            since = (await client.get(f"/api/v1/audit?from={time.time() - 60:.0f}&limit=1000",
                                      headers=root)).json()
            assert len(since["items"]) >= 5

    run(go())


def test_an_active_session_slides_and_an_idle_one_ends(env: ApiEnv) -> None:
    from trapline.security.secret_key import load_or_create_secret
    from trapline.security.sessions import SessionCodec

    now = [time.time()]
    env.context.sessions = SessionCodec(load_or_create_secret(env.data_dir / "secret.key"),
                                        clock=lambda: now[0])

    async def go() -> None:
        async with env.client() as client:
            await env.login(client, "alice")
            assert "set-cookie" not in (await client.get("/api/v1/session")).headers
            now[0] += 50 * 60  # active within the idle hour: the cookie is signed again
            response = await client.get("/api/v1/session")
            assert response.status_code == 200 and "set-cookie" in response.headers
            now[0] += 50 * 60
            assert (await client.get("/api/v1/session")).status_code == 200
            now[0] += 61 * 60  # idle for more than an hour
            assert (await client.get("/api/v1/session")).status_code == 401

    run(go())


def test_bodies_over_the_limit_are_413(env: ApiEnv) -> None:
    env.context.max_body_bytes = 1024

    async def go() -> None:
        async with env.client() as client:
            response = await client.put("/api/v1/settings/big", headers=env.basic("root"),
                                        json={"value": "x" * 2000})
            assert response.status_code == 413
            assert response.json()[0]["reason"].startswith("request body of")

            async def chunks():  # no Content-Length: read up to the limit, then refused
                for _ in range(4):
                    yield b" " * 512

            response = await client.put("/api/v1/settings/big", headers=env.basic("root"),
                                        content=chunks())
            assert response.status_code == 413

    run(go())
    assert env.store.settings.find("big") is None
