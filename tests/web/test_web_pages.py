"""The pages in process over a real store: access per role, escaping, CSRF, no change on GET."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from api_env import ORIGIN, run
from pages import sign_in
from starlette.routing import Route

from trapline.security.roles import Role, require
from trapline.service.http.operations import Operation
from trapline.store import INTERNAL_TI, SYSTEM, DetectionInput, IndicatorInput

XSS = "<script>alert(1)</script>"
JS_URL = "javascript:alert(1)"
SAMPLES = {"name": "Demo_IP_Reputation.json", "id": "1"}


def page_operations(env: Any) -> list[Operation]:
    """Every page route, each with its declared operation (as the API's matrix test)."""
    assert env.app.pages is not None
    found = []
    for route in env.app.pages.starlette.routes:
        assert isinstance(route, Route), f"{route!r}: not a declared route"
        operation = getattr(route.endpoint, "operation", None)
        assert isinstance(operation, Operation), f"{route.path}: no declared access rule"
        found.append(operation)
    return found


def fill(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: SAMPLES.get(m.group(1), "x"), path)


def test_every_page_declares_its_access_and_each_role_gets_what_it_declares(env: Any) -> None:
    gets = [op for op in page_operations(env) if op.method == "GET" and op.group == "web"]
    assert len(gets) >= 10

    async def go() -> list[str]:
        failures = []
        async with env.client() as anonymous:
            for op in gets:
                response = await anonymous.get(fill(op.path))
                if op.access.public:
                    continue
                if response.status_code != 303 or not response.headers["location"].startswith(
                        "/login?next="):
                    failures.append(f"anonymous GET {op.path}: {response.status_code}")
        for user, role in (("root", Role.ADMINISTRATOR), ("alice", Role.ANALYST)):
            async with env.client() as client:
                await sign_in(client, user)
                for op in gets:
                    response = await client.get(fill(op.path))
                    allowed = op.access.permission is None or require(role,
                                                                      op.access.permission)
                    got = response.status_code
                    if allowed and got not in (200, 303, 400, 404):
                        failures.append(f"{user} GET {op.path}: {got} {response.text[:200]}")
                    if not allowed and got != 403:
                        failures.append(f"{user} GET {op.path}: {got}, want 403")
                    if not allowed:
                        assert "Not allowed" in response.text and "<html" in response.text
        return failures

    assert run(go()) == []


def test_posts_need_a_session_and_the_role(env: Any) -> None:
    posts = [op for op in page_operations(env) if op.method == "POST" and not op.access.public]

    async def go() -> None:
        async with env.client() as client:
            for op in posts:
                response = await client.post(fill(op.path), data={}, headers={"Origin": ORIGIN})
                assert response.status_code == 401, op.path
        async with env.client() as client:
            token = await sign_in(client, "alice")
            for op in posts:
                if op.access.permission is not None and not require(Role.ANALYST,
                                                                    op.access.permission):
                    response = await client.post(fill(op.path), data={"csrf_token": token,
                                                                      "value": "192.0.2.9"},
                                                 headers={"Origin": ORIGIN})
                    assert response.status_code == 403, op.path

    before = env.audit_count()
    run(go())
    assert env.audit_count() == before


def test_security_headers_on_every_answer(env: Any) -> None:
    async def go() -> list[httpx.Response]:
        async with env.client() as client:
            answers = [await client.get("/login"), await client.get("/")]
            await sign_in(client, "root")
            answers += [await client.get("/lookup"), await client.get("/settings"),
                        await client.get("/static/trapline.css"), await client.get("/logout")]
            return answers

    for response in run(go()):
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'self'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"


def test_frame_ancestors_come_from_the_allowed_hosts(tmp_path: Any) -> None:
    from api_env import ApiEnv

    from trapline.service.http.app import create_app

    env = ApiEnv.create(tmp_path)
    try:
        env.context.settings.http.allowed_frame_hosts.append("kuma.example.com:7220")
        app = create_app(env.context)

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
                return await client.get("/login")

        response = run(go())
        assert response.headers["content-security-policy"].endswith(
            "frame-ancestors 'self' kuma.example.com:7220")
        assert "x-frame-options" not in response.headers
    finally:
        env.close()


def test_sign_in_wrong_password_and_sign_out(env: Any) -> None:
    async def go() -> None:
        async with env.client() as client:
            wrong = await client.post("/login", data={"user": "alice", "password": "nope"},
                                      headers={"Origin": ORIGIN})
            assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
            cross = await client.post("/login", data={"user": "alice", "password": "x"},
                                      headers={"Origin": "https://evil.example"})
            assert cross.status_code == 403 and "cross-origin" in cross.text
            token = await sign_in(client, "alice")
            assert (await client.get("/lookup")).status_code == 200
            out = await client.post("/logout", data={"csrf_token": token},
                                    headers={"Origin": ORIGIN})
            assert out.status_code == 303
            assert (await client.get("/lookup")).status_code == 303

    run(go())


def test_next_never_leaves_the_site(env: Any) -> None:
    async def go() -> str:
        async with env.client() as client:
            response = await client.post("/login", data={
                "user": "alice", "password": "correct horse battery",
                "next": "//evil.example/"}, headers={"Origin": ORIGIN})
            return response.headers["location"]

    assert run(go()) == "/"


def test_csrf_refusals_change_nothing(env: Any) -> None:
    async def go() -> None:
        async with env.client() as client:
            token = await sign_in(client, "root")
            for data, headers, reason in (
                    ({"value": "203.0.113.7"}, {"Origin": ORIGIN}, "missing CSRF token"),
                    ({"value": "203.0.113.7", "csrf_token": "1.abc"}, {"Origin": ORIGIN},
                     "does not belong"),
                    ({"value": "203.0.113.7", "csrf_token": token},
                     {"Origin": "https://evil.example"}, "cross-origin")):
                response = await client.post("/indicators/internal-ti", data=data,
                                             headers=headers)
                assert response.status_code == 403 and reason in response.text
            ok = await client.post("/indicators/internal-ti",
                                   data={"value": "203.0.113.7", "csrf_token": token},
                                   headers={"Origin": ORIGIN})
            assert ok.status_code == 303

    before = env.audit_count()
    run(go())
    assert env.audit_count() == before + 1
    assert env.store.indicators.get(INTERNAL_TI, "203.0.113.7").added_by == "root"


def test_no_get_changes_anything(env: Any) -> None:
    async def go() -> None:
        async with env.client() as client:
            await sign_in(client, "root")
            for op in page_operations(env):
                if op.method == "GET":
                    await client.get(fill(op.path) + "?value=203.0.113.8&mode=text")
            assert (await client.get("/indicators/add?value=203.0.113.8")).status_code == 200

    before = env.audit_count()
    history = env.store.lookups.recent("root")
    run(go())
    assert env.audit_count() == before
    assert env.store.lookups.recent("root") == history


def test_lookup_single_text_and_file(env: Any) -> None:
    async def go() -> list[str]:
        async with env.client() as client:
            token = await sign_in(client, "alice")
            single = await client.post("/lookup", data={"csrf_token": token, "mode": "value",
                                                        "value": "198.51.100.7"},
                                       headers={"Origin": ORIGIN})
            text = await client.post("/lookup", data={
                "csrf_token": token, "mode": "text",
                "text": "blocked hxxp://malicious[.]trapline-demo[.]test/x from 192.0.2.1\n"
                        "allowed 203.0.113.9"}, headers={"Origin": ORIGIN})
            upload = await client.post("/lookup", data={"csrf_token": token, "mode": "file"},
                                       files={"file": ("demo.txt", b"trapline demo")},
                                       headers={"Origin": ORIGIN})
            history = await client.get("/lookup")
            return [single.text, text.text, upload.text, history.text]

    single, text, upload, history = run(go())
    assert "detected" in single and "cidr 198.51.100.0/24" in single
    assert "Demo_IP_Reputation" in single and "snapshot 3" in single
    assert "3 indicator(s) found" in text and "not detected" in text
    assert "parent-domain" in text or "url-host" in text
    assert "e6301b768ef6f9946cbca6d55e2bb10c" in upload and "Demo_Malicious_Hash" in upload
    assert "1d8ce479d7be5c2628379b8ee2e2c0e78e95a0fe79bcb2093e1ae4d14193d8a0" in upload
    assert history.count("<tr>") >= 4


def test_add_mark_and_delete_from_the_indicator_page(env: Any) -> None:
    async def go(user: str, path: str, value: str) -> httpx.Response:
        async with env.client() as client:
            token = await sign_in(client, user)
            return await client.post(path, data={"csrf_token": token, "value": value,
                                                 "category": "Console"},
                                     headers={"Origin": ORIGIN})

    added = run(go("alice", "/indicators/internal-ti", "203.0.113.44"))
    assert added.status_code == 303 and "notice=added" in added.headers["location"]
    assert env.store.indicators.get(INTERNAL_TI, "203.0.113.44").category == "Console"
    assert run(go("alice", "/indicators/internal-ti/delete", "203.0.113.44")).status_code == 403
    assert run(go("alice", "/indicators/false-positive", "192.0.2.1")).status_code == 303
    assert run(go("alice", "/indicators/false-positive/delete", "192.0.2.1")).status_code == 303
    assert run(go("root", "/indicators/internal-ti/delete", "203.0.113.44")).status_code == 303
    bad = run(go("alice", "/indicators/internal-ti", "not an indicator"))
    assert bad.status_code == 400 and "not an indicator" in bad.text


@pytest.fixture
def poisoned(env: Any) -> Any:
    """Values holding script and javascript: payloads, from a list entry and an event."""
    env.store.tags.create(SYSTEM, XSS)
    env.store.indicators.put(SYSTEM, INTERNAL_TI, [IndicatorInput(
        value="203.0.113.66", category=XSS, comment=JS_URL, tags=(XSS,),
        context={"link": JS_URL, XSS: XSS})])
    env.store.detections.add([DetectionInput(
        detection_id="d1", time=__import__("time").time() - 60, observable="203.0.113.66",
        indicator="203.0.113.66", category=XSS, feed=JS_URL, context={"url": JS_URL, "x": XSS},
        source=XSS, event=f"event {XSS} {JS_URL}")])
    env.store.settings.set(SYSTEM, "note", XSS)
    return env


def test_every_value_is_escaped(poisoned: Any) -> None:
    env = poisoned
    detection = env.store.detections.search(__import__("trapline.store").store.DetectionQuery(),
                                            limit=1).items[0]
    paths = ["/", "/detections", f"/detections/{detection.id}?at={detection.time!r}",
             "/indicators", "/indicators?value=203.0.113.66", f"/indicators?q={XSS}",
             f"/indicators/add?value={JS_URL}", "/indicators/add?value=203.0.113.66",
             f"/lookup?value={XSS}", "/audit", "/settings", "/users", "/feeds",
             f"/login?next={JS_URL}"]

    async def go() -> list[tuple[str, str]]:
        async with env.client() as client:
            token = await sign_in(client, "root")
            pages = [(p, (await client.get(p)).text) for p in paths]
            posted = await client.post("/lookup", data={"csrf_token": token, "mode": "text",
                                                        "text": f"{XSS} 203.0.113.66"},
                                       headers={"Origin": ORIGIN})
            return [*pages, ("POST /lookup", posted.text)]

    for path, text in run(go()):
        assert "<script>alert" not in text, path
        assert 'href="javascript:' not in text.lower() and "src=\"javascript:" not in text, path
        assert not re.search(r"<script(?! src=\"/static/)", text), path
    pages = dict(run(go()))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages["/indicators?value=203.0.113.66"]
