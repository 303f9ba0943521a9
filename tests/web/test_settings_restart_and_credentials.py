"""The Settings page's Restart now (in process, the supervisor replaced by stand-ins; the
real restart is tests/e2e/test_restart.py) and its feed source credentials form: who may,
the CSRF check, what is kept (encrypted), and that no secret is ever shown or logged."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import msgspec
import pytest
from api_env import ORIGIN, run
from pages import sign_in

from trapline.config import Settings
from trapline.errors import ConfigError
from trapline.feeds.config import feed_from_dict
from trapline.security.secret_key import load_or_create_secret
from trapline.service import feed_credentials as fc
from trapline.store import SYSTEM
from trapline.web import runtime

H = {"Origin": ORIGIN}
PASSWORD = "pw-Hq27-page-secret"
TOKEN = "tok-Vb90-page-secret"


def with_feeds(env: Any) -> None:
    """A configured HTTP feed, a TAXII one and a local file (which has no credentials)."""
    settings = env.context.settings
    feeds = [feed_from_dict({"name": "Vendor.txt", "source": "https://feeds.example/a.txt"}),
             feed_from_dict({"name": "Taxii", "format": "taxii",
                             "source": "https://taxii.example/api/collections/1/",
                             "http": {"username": "from-file", "password": "file-pw"}}),
             feed_from_dict({"name": "Local.txt", "source": str(env.data_dir / "l.txt")})]
    env.context.settings = msgspec.structs.replace(settings, feeds=feeds)
    env.store.settings.set(SYSTEM, runtime.SETUP_DONE, True)


def kept(env: Any) -> dict[str, Any]:
    return {s.key: s.value for s in env.store.settings.all() if fc.is_credential_key(s.key)}


def test_feed_credentials_set_shown_as_set_and_cleared(
        env: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with_feeds(env)
    seen: list[str] = []

    async def go() -> None:
        async with env.client() as client:
            token = await sign_in(client, "root")
            page = await client.get("/settings")
            assert page.status_code == 200
            assert 'id="feed-credentials"' in page.text
            assert "Vendor.txt" in page.text and "user from-file" in page.text
            assert "Local.txt" not in page.text.split('id="feed-credentials"')[1] \
                .split("</section>")[0]
            response = await client.post("/settings/feed-credentials", headers=H, data={
                "csrf_token": token, "feed": "Vendor.txt", "action": "set",
                "username": "svc", "password": PASSWORD, "token": ""})
            assert response.status_code == 303
            response = await client.post("/settings/feed-credentials", headers=H, data={
                "csrf_token": token, "feed": "Taxii", "action": "set", "username": "",
                "password": "", "token": TOKEN})
            assert response.status_code == 303
            for path in ("/settings?notice=credentials", "/audit", "/settings/config.toml",
                         "/api/v1/settings"):
                shown = await client.get(path)
                assert shown.status_code == 200, path
                seen.append(shown.text)
            page = (await client.get("/settings")).text
            assert "user <code>svc</code>, password set" in page
            assert "bearer token set" in page
            # refusals keep nothing and never show the secret back
            for data, message in (
                    ({"username": "svc", "password": PASSWORD, "token": TOKEN}, "not both"),
                    ({"username": "svc", "password": ""}, "give a user name and a password"),
                    ({"token": "a\nb"}, "control character")):
                refused = await client.post("/settings/feed-credentials", headers=H, data={
                    "csrf_token": token, "feed": "Vendor.txt", "action": "set", **data})
                assert refused.status_code == 400 and message in refused.text
                seen.append(refused.text)
            refused = await client.post("/settings/feed-credentials", headers=H, data={
                "csrf_token": token, "feed": "Local.txt", "action": "set", "token": TOKEN})
            assert refused.status_code == 400 and "no HTTP(S) or TAXII feed" in refused.text
            seen.append(refused.text)
            cleared = await client.post("/settings/feed-credentials", headers=H, data={
                "csrf_token": token, "feed": "Taxii", "action": "clear"})
            assert cleared.status_code == 303
            seen.append((await client.get("/audit")).text)

    run(go())
    values = kept(env)
    assert list(values) == ["feeds.secret.Vendor.txt"]
    secret = load_or_create_secret(Path(env.data_dir) / "secret.key")
    assert fc.unseal(values["feeds.secret.Vendor.txt"], secret) == ("svc", PASSWORD, "")
    for text in [*seen, caplog.text]:
        assert PASSWORD not in text and TOKEN not in text
    for entry in env.store.audit.search(action="setting.").items:
        assert PASSWORD not in str(entry.details) and TOKEN not in str(entry.details)
    assert any(e.target == "feeds.secret.Taxii" for e in
               env.store.audit.search(action="setting.delete").items)
    for path in Path(env.data_dir).iterdir():
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path


def test_an_analyst_may_not_see_or_set_feed_credentials_nor_restart(env: Any) -> None:
    with_feeds(env)
    asked: list[str] = []
    env.context.check_restart = lambda: env.context.settings
    env.context.request_restart = lambda: asked.append("restart")

    async def go() -> None:
        async with env.client() as client:
            token = await sign_in(client, "alice")
            assert (await client.get("/settings")).status_code == 403
            assert (await client.get("/settings/restart/status")).status_code == 403
            for path, data in (("/settings/feed-credentials",
                                {"feed": "Vendor.txt", "action": "set", "token": TOKEN}),
                               ("/settings/feed-credentials",
                                {"feed": "Vendor.txt", "action": "clear"}),
                               ("/settings/restart", {})):
                response = await client.post(path, data={**data, "csrf_token": token},
                                             headers=H)
                assert response.status_code == 403, path
        async with env.client() as client:  # an Administrator without the CSRF token
            await sign_in(client, "root")
            for path in ("/settings/restart", "/settings/feed-credentials"):
                response = await client.post(path, data={"feed": "Vendor.txt",
                                                         "action": "set", "token": TOKEN},
                                             headers=H)
                assert response.status_code == 403, path

    run(go())
    assert asked == [] and kept(env) == {}
    assert env.store.audit.search(action="service.restart").items == []


def test_restart_checks_first_and_answers_at_once(env: Any) -> None:
    with_feeds(env)
    asked: list[str] = []

    def refuse() -> Settings:
        raise ConfigError("service.listen: cannot listen on 127.0.0.1:1: in use")

    async def go() -> None:
        async with env.client() as client:
            token = await sign_in(client, "root")
            page = await client.get("/settings")
            assert "Restart now" not in page.text  # not run by `trapline serve`
            response = await client.post("/settings/restart", data={"csrf_token": token},
                                         headers=H)
            assert response.status_code == 503 and "nothing to restart" in response.text
            env.context.check_restart = refuse
            env.context.request_restart = lambda: asked.append("restart")
            env.context.boot = "boot-1"
            assert "Restart now" in (await client.get("/settings")).text
            response = await client.post("/settings/restart", data={"csrf_token": token},
                                         headers=H)
            assert response.status_code == 409
            assert "Restart refused, the service keeps running" in response.text
            assert "cannot listen on 127.0.0.1:1" in response.text
            assert asked == []
            settings = env.context.settings
            moved = msgspec.structs.replace(settings, service=msgspec.structs.replace(
                settings.service, listen="127.0.0.1:7777"))
            env.context.check_restart = lambda: moved
            env.context.started_with = settings  # as the worker started: HTTP stays
            response = await client.post("/settings/restart", data={"csrf_token": token},
                                         headers=H)
            assert response.status_code == 200
            assert "The service is restarting" in response.text
            assert 'data-boot="boot-1"' in response.text and "127.0.0.1:7777" in response.text
            assert "moves to" not in response.text  # the HTTP address stays
            env.context.started_with = msgspec.structs.replace(
                settings, http=msgspec.structs.replace(settings.http, listen="0.0.0.0:9443"))
            response = await client.post("/settings/restart", data={"csrf_token": token},
                                         headers=H)
            assert "moves to" in response.text  # from 9443 to the settings' 8443
            assert "http://trapline:8443/settings?notice=restarted" in response.text
            status = await client.get("/settings/restart/status")
            assert status.json() == {"boot": "boot-1"}

    run(go())
    assert asked == ["restart", "restart"]
    entry = env.store.audit.search(action="service.restart").items[-1]
    assert entry.actor == "root" and entry.details["listen"] == "127.0.0.1:7777"
