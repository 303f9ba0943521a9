"""The tenant picker and tag management, in process over a real store.

root is an Administrator of General (may act in General and Acme), alice an Analyst of
General, bob an Analyst of Acme (tests/service/http/api_env.py).
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
from api_env import ORIGIN, run
from pages import sign_in

from trapline.store import FALSE_POSITIVE, INTERNAL_TI, SYSTEM, DetectionInput, IndicatorInput

XSS = "<script>alert(1)</script>"
PICKER = 'id="tenant-picker"'


def detections(env: Any, tenant: str, count: int, value: str) -> None:
    now = time.time()
    env.store.detections.add([DetectionInput(
        detection_id=f"{tenant}-{i}", time=now - 60 - i, observable=value, indicator=value,
        category=f"Cat_{tenant}", feed="Demo_IP_Reputation.json", tenant=tenant)
        for i in range(count)])


def hrefs(text: str) -> list[str]:
    return [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]*)"', text)]


async def get(client: httpx.AsyncClient, path: str) -> httpx.Response:
    return await client.get(path)


async def post(client: httpx.AsyncClient, path: str, token: str,
               **data: str) -> httpx.Response:
    return await client.post(path, data={"csrf_token": token, **data},
                             headers={"Origin": ORIGIN})


def test_only_users_of_several_tenants_get_the_picker(env: Any) -> None:
    async def go(user: str) -> str:
        async with env.client() as client:
            await sign_in(client, user)
            return (await client.get("/detections")).text

    admin = run(go("root"))
    assert PICKER in admin
    picker = admin[admin.index('<form method="get" action="/detections" class="tenant-picker'):]
    picker = picker[:picker.index("</form>")]
    assert '<option value="Acme">Acme</option>' in picker
    assert '<option value="General" selected>General (yours)</option>' in picker
    assert 'type="submit"' in picker  # keyboard: choose, then Switch (no script needed)
    assert 'id="f-tenant"' in admin  # the Detections filter has the tenant choice too
    for analyst in ("alice", "bob"):
        text = run(go(analyst))
        assert PICKER not in text and 'id="f-tenant"' not in text
        assert "tenant=" not in " ".join(hrefs(text))


def test_the_chosen_tenant_is_shown_and_every_link_keeps_it(env: Any) -> None:
    detections(env, "General", 3, "192.0.2.1")
    detections(env, "Acme", 55, "198.51.100.7")  # over one page of 50
    env.store.indicators.put(SYSTEM, INTERNAL_TI, [IndicatorInput(value="203.0.113.5")],
                             tenant="Acme")
    env.store.indicators.put(SYSTEM, INTERNAL_TI, [IndicatorInput(value="203.0.113.6")])

    async def go() -> dict[str, str]:
        async with env.client() as client:
            await sign_in(client, "root")
            return {path: (await client.get(path)).text for path in (
                "/?tenant=Acme", "/detections?tenant=Acme", "/indicators?tenant=Acme",
                "/lookup?tenant=Acme", "/feeds?tenant=Acme", "/indicators/tags?tenant=Acme",
                "/detections/1?at=1&tenant=Acme", "/detections?tenant=General")}

    pages = run(go())
    dashboard = pages["/?tenant=Acme"]
    assert "Tenant Acme" in dashboard
    assert '<option value="Acme" selected>Acme</option>' in dashboard
    assert 'class="tenant-picker away"' in dashboard  # not the user's own: marked
    links = hrefs(dashboard)
    for section in ("/", "/detections", "/indicators", "/lookup", "/feeds", "/users"):
        assert f"{section}?tenant=Acme" in links, section
    assert "/detections?range=1h&tenant=Acme" in links
    assert "/detections?indicator=198.51.100.7&tenant=Acme" in links

    listing = pages["/detections?tenant=Acme"]
    assert "55 matching" in listing and "Cat_Acme" in listing and "Cat_General" not in listing
    assert '<option value="Acme" selected>Acme</option>' in listing  # the filter's select
    nexts = [h for h in hrefs(listing) if "cursor=" in h]
    assert nexts and all("tenant=Acme" in h for h in nexts)
    assert all("tenant=Acme" in h for h in hrefs(listing) if h.startswith("/detections/"))
    assert "Cat_Acme" not in pages["/detections?tenant=General"]

    indicators = pages["/indicators?tenant=Acme"]
    assert "203.0.113.5" in indicators and "203.0.113.6" not in indicators
    assert "/indicators?value=203.0.113.5&tenant=Acme" in hrefs(indicators)
    assert '<input type="hidden" name="tenant" value="Acme">' in indicators  # search form
    assert "/indicators/tags?tenant=Acme" in hrefs(indicators)
    lookup = pages["/lookup?tenant=Acme"]
    assert lookup.count('action="/lookup?tenant=Acme"') == 3
    # a page that acts in no tenant keeps the choice in its links and picker, and the
    # picker there goes to the dashboard
    feeds = pages["/feeds?tenant=Acme"]
    assert "/indicators?tenant=Acme" in hrefs(feeds)
    assert '<form method="get" action="/" class="tenant-picker away"' in feeds
    assert 'action="/indicators/tags" class="tenant-picker' in pages[
        "/indicators/tags?tenant=Acme"]


def test_changes_act_in_the_chosen_tenant(env: Any) -> None:
    async def go() -> list[httpx.Response]:
        async with env.client() as client:
            token = await sign_in(client, "root")
            confirm = await client.get("/indicators/add?value=203.0.113.9&tenant=Acme")
            assert 'action="/indicators/internal-ti?tenant=Acme"' in confirm.text
            added = await post(client, "/indicators/internal-ti?tenant=Acme", token,
                               value="203.0.113.9", category="Acme_Block")
            marked = await post(client, "/indicators/false-positive?tenant=Acme", token,
                                value="192.0.2.1")
            page = await client.get(added.headers["location"])
            return [added, marked, page]

    added, marked, page = run(go())
    assert added.status_code == 303 and marked.status_code == 303
    assert "tenant=Acme" in added.headers["location"]
    assert "tenant=Acme" in marked.headers["location"]
    assert env.store.indicators.get(INTERNAL_TI, "203.0.113.9",
                                    tenant="Acme").category == "Acme_Block"
    assert env.store.indicators.page(INTERNAL_TI).total == 0  # nothing in General
    assert env.store.indicators.get(FALSE_POSITIVE, "192.0.2.1", tenant="Acme")
    assert env.store.indicators.page(FALSE_POSITIVE).total == 0
    assert "Added to InternalTI" in page.text and "Acme_Block" in page.text
    assert 'action="/indicators/internal-ti/delete?tenant=Acme"' in page.text


def test_an_analyst_cannot_pick_another_tenant(env: Any) -> None:
    async def go() -> list[httpx.Response]:
        async with env.client() as client:
            token = await sign_in(client, "alice")
            answers = [await client.get(p) for p in (
                "/?tenant=Acme", "/detections?tenant=Acme", "/indicators?tenant=Acme",
                "/lookup?tenant=Acme", "/indicators/tags?tenant=Acme")]
            answers.append(await post(client, "/indicators/internal-ti?tenant=Acme", token,
                                      value="203.0.113.10"))
            answers.append(await post(client, "/indicators/false-positive?tenant=Acme",
                                      token, value="192.0.2.1"))
            feeds = await client.get("/feeds?tenant=Acme")  # acts in no tenant: ignored
            assert feeds.status_code == 200 and "tenant=Acme" not in feeds.text
        async with env.client() as client:
            await sign_in(client, "bob")
            answers.append(await client.get("/detections?tenant=General"))
        return answers

    before = env.audit_count()
    for response in run(go()):
        assert response.status_code == 403, response.request.url
        assert "Not allowed" in response.text and "may not act in tenant" in response.text
    assert env.audit_count() == before
    assert env.store.indicators.page(INTERNAL_TI, tenant="Acme").total == 0


def test_tags_create_add_remove_delete_each_audited(env: Any) -> None:
    env.store.indicators.put(SYSTEM, INTERNAL_TI, [IndicatorInput(value="203.0.113.20")])
    env.store.indicators.put(SYSTEM, FALSE_POSITIVE, [IndicatorInput(value="192.0.2.1")])

    async def go() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with env.client() as client:
            token = await sign_in(client, "root")
            created = await post(client, "/indicators/tags", token, name="WIN-TROJAN",
                                 color="#aa0000", description="trojans")
            assert created.status_code == 303
            seen["tags"] = (await client.get(created.headers["location"])).text
            twice = await post(client, "/indicators/tags", token, name="WIN-TROJAN")
            seen["twice"] = twice
            bad = await post(client, "/indicators/tags", token, name="x", color="red")
            seen["bad"] = bad
            seen["before"] = (await client.get("/indicators?value=203.0.113.20")).text
            tagged = await post(client, "/indicators/internal-ti/tags", token,
                                value="203.0.113.20", tag="WIN-TROJAN")
            assert tagged.status_code == 303 and "notice=tagged" in tagged.headers["location"]
            seen["tagged"] = (await client.get(tagged.headers["location"])).text
            fp = await post(client, "/indicators/false-positive/tags", token,
                            value="192.0.2.1", tag="WIN-TROJAN")
            assert fp.status_code == 303
            seen["in_use"] = await post(client, "/indicators/tags/delete", token,
                                        name="WIN-TROJAN")
            seen["list"] = (await client.get("/indicators/tags")).text
            for path, value in (("/indicators/internal-ti/tags/delete", "203.0.113.20"),
                                ("/indicators/false-positive/tags/delete", "192.0.2.1")):
                untagged = await post(client, path, token, value=value, tag="WIN-TROJAN")
                assert untagged.status_code == 303, untagged.text
            seen["unknown"] = await post(client, "/indicators/internal-ti/tags", token,
                                         value="203.0.113.20", tag="nope")
            deleted = await post(client, "/indicators/tags/delete", token, name="WIN-TROJAN")
            assert deleted.status_code == 303 and "notice=deleted" in deleted.headers[
                "location"]
        return seen

    seen = run(go())
    assert "WIN-TROJAN" in seen["tags"] and "Tag created." in seen["tags"]
    assert 'fill="#aa0000"' in seen["tags"]
    assert seen["twice"].status_code == 409 and "exists" in seen["twice"].text
    assert seen["bad"].status_code == 400 and "#rrggbb" in seen["bad"].text
    assert '<option value="WIN-TROJAN">WIN-TROJAN</option>' in seen["before"]
    assert "Tag added." in seen["tagged"]
    assert 'aria-label="Remove tag WIN-TROJAN from InternalTI"' in seen["tagged"]
    assert seen["in_use"].status_code == 409 and "on 2 indicator" in seen["in_use"].text
    assert "in use" in seen["list"]
    assert seen["unknown"].status_code == 404
    assert env.store.tags.all() == []
    actions = [a.action for a in env.store.audit.search(limit=50).items]
    assert actions[:6] == ["tag.delete", "indicators.untag", "indicators.untag",
                           "indicators.tag", "indicators.tag", "tag.create"]
    assert all(a.actor == "root" for a in env.store.audit.search(limit=6).items)


def test_tags_act_in_the_chosen_tenant(env: Any) -> None:
    env.store.indicators.put(SYSTEM, INTERNAL_TI, [IndicatorInput(value="203.0.113.21")],
                             tenant="Acme")

    async def go() -> httpx.Response:
        async with env.client() as client:
            token = await sign_in(client, "root")
            created = await post(client, "/indicators/tags?tenant=Acme", token, name="acme-apt")
            assert "tenant=Acme" in created.headers["location"]
            tagged = await post(client, "/indicators/internal-ti/tags?tenant=Acme", token,
                                value="203.0.113.21", tag="acme-apt")
            assert "tenant=Acme" in tagged.headers["location"]
            return await client.get(tagged.headers["location"])

    page = run(go())
    assert "acme-apt" in page.text
    assert [t.name for t in env.store.tags.all(tenant="Acme")] == ["acme-apt"]
    assert env.store.tags.all() == []
    assert env.store.indicators.get(INTERNAL_TI, "203.0.113.21",
                                    tenant="Acme").tags == ("acme-apt",)


def test_tag_management_refusals(env: Any) -> None:
    env.store.tags.create(SYSTEM, "apt")
    env.store.indicators.put(SYSTEM, INTERNAL_TI, [IndicatorInput(value="203.0.113.22")])

    async def go() -> dict[str, httpx.Response]:
        got: dict[str, httpx.Response] = {}
        async with env.client() as client:
            token = await sign_in(client, "alice")
            got["page"] = await client.get("/indicators/tags")
            got["create"] = await post(client, "/indicators/tags", token, name="mine")
            got["delete"] = await post(client, "/indicators/tags/delete", token, name="apt")
            got["no-csrf"] = await client.post("/indicators/internal-ti/tags",
                                               data={"value": "203.0.113.22", "tag": "apt"},
                                               headers={"Origin": ORIGIN})
            got["cross"] = await client.post(
                "/indicators/internal-ti/tags",
                data={"csrf_token": token, "value": "203.0.113.22", "tag": "apt"},
                headers={"Origin": "https://evil.example"})
        async with env.client() as client:
            token = await sign_in(client, "bob")  # Acme's analyst, at General's entry
            got["other-tenant"] = await post(client, "/indicators/internal-ti/tags?tenant="
                                             "General", token, value="203.0.113.22",
                                             tag="apt")
        async with env.client() as anonymous:
            got["anonymous"] = await anonymous.post(
                "/indicators/internal-ti/tags", data={"value": "203.0.113.22", "tag": "apt"},
                headers={"Origin": ORIGIN})
        return got

    before = env.audit_count()
    got = run(go())
    assert got["page"].status_code == 200 and "apt" in got["page"].text
    assert 'action="/indicators/tags"' not in got["page"].text  # no create form
    assert "/indicators/tags/delete" not in got["page"].text
    for name in ("create", "delete"):
        assert got[name].status_code == 403 and "may not feeds.manage" in got[name].text
    assert got["no-csrf"].status_code == 403 and "missing CSRF token" in got["no-csrf"].text
    assert got["cross"].status_code == 403 and "cross-origin" in got["cross"].text
    assert got["other-tenant"].status_code == 403
    assert got["anonymous"].status_code == 401
    assert env.audit_count() == before
    assert [t.name for t in env.store.tags.all()] == ["apt"]
    assert env.store.indicators.get(INTERNAL_TI, "203.0.113.22").tags == ()

    async def analyst_tags() -> httpx.Response:  # internal_ti.add is the Analyst's
        async with env.client() as client:
            token = await sign_in(client, "alice")
            return await post(client, "/indicators/internal-ti/tags", token,
                              value="203.0.113.22", tag="apt")

    assert run(analyst_tags()).status_code == 303
    assert env.store.indicators.get(INTERNAL_TI, "203.0.113.22").tags == ("apt",)


def test_a_script_tag_name_renders_inert(env: Any) -> None:
    env.store.indicators.put(SYSTEM, INTERNAL_TI, [IndicatorInput(value="203.0.113.23")])

    async def go() -> list[str]:
        async with env.client() as client:
            token = await sign_in(client, "root")
            created = await post(client, "/indicators/tags", token, name=XSS,
                                 description=XSS)
            assert created.status_code == 303
            tagged = await post(client, "/indicators/internal-ti/tags", token,
                                value="203.0.113.23", tag=XSS)
            assert tagged.status_code == 303
            return [(await client.get(p)).text for p in (
                "/indicators/tags", "/indicators?value=203.0.113.23", "/indicators",
                "/indicators/add?value=203.0.113.23")]

    for text in run(go()):
        assert "<script>alert" not in text
        assert not re.search(r"<script(?! src=\"/static/)", text)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert env.store.indicators.get(INTERNAL_TI, "203.0.113.23").tags == (XSS,)
