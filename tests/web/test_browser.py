"""The web interface in Debian's Chromium, against a real ``trapline serve``.

Sign in, look up a demo indicator, add a value to InternalTI and see the TCP
service detect it, an Analyst refused Settings, script payloads inert, framing
allowed from one origin and refused from another. Every page is saved as a
screenshot in test-artifacts/screenshots/.
"""

from __future__ import annotations

import http.server
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import USERS, Service, chromium, launch, screenshot, stop
from subprocesses import tcp_lookup
from syslog_receivers import free_port

from trapline.store import INTERNAL_TI, SYSTEM, DetectionInput, IndicatorInput, open_store

XSS = "<script>alert(1)</script>"
JS_URL = "javascript:alert(1)"


class Framer:
    """A tiny HTTP server on its own port serving a page that frames ``target``."""

    def __init__(self, target: str) -> None:
        body = (f'<!doctype html><title>console</title><h1>SIEM console</h1>'
                f'<iframe id="ui" src="{target}" width="1200" height="700"></iframe>').encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def poison(data: Path) -> None:
    """Script and javascript: payloads in a list entry, a tag and a detection."""
    store = open_store(data)
    try:
        store.tags.create(SYSTEM, XSS)
        store.indicators.put(SYSTEM, INTERNAL_TI, [IndicatorInput(
            value="203.0.113.66", category=XSS, comment=JS_URL, tags=(XSS,),
            context={"link": JS_URL, XSS: XSS})])
        now = time.time()
        store.detections.add([DetectionInput(
            detection_id=f"d{i}", time=now - i * 1500, observable=value, indicator=value,
            category=category, feed=feed, context={"url": JS_URL, "x": XSS},
            source="kuma-collector", event=f"<134>host app: src={value} {XSS}")
            for i, (value, category, feed) in enumerate(
                [("192.0.2.1", "Demo_IP_Reputation", "Demo_IP_Reputation.json"),
                 ("198.51.100.7", "Demo_IP_Reputation", "Demo_IP_Reputation.json"),
                 ("fakess123.nu", "Demo_Botnet_CnC_URL", "Demo_Botnet_CnC_URL.json"),
                 ("203.0.113.66", XSS, "InternalTI")] * 6)])
    finally:
        store.close()


def second_tenant(data: Path) -> None:
    """Tenant Acme, with an InternalTI entry and a few detections of its own."""
    store = open_store(data)
    try:
        store.tenants.create(SYSTEM, "Acme")
        store.indicators.put(SYSTEM, INTERNAL_TI, [IndicatorInput(
            value="acme-phish.example", category="Acme_Phishing", comment="INC-7 lure")],
            tenant="Acme")
        now = time.time()
        store.detections.add([DetectionInput(
            detection_id=f"acme{i}", time=now - 300 - i * 2400, observable=value,
            indicator=value, category=category, feed=feed, source="acme-kuma",
            tenant="Acme", event=f"<134>acme proxy: url=http://{value}/")
            for i, (value, category, feed) in enumerate(
                [("acme-phish.example", "Acme_Phishing", "InternalTI"),
                 ("fakess123.nu", "Demo_Botnet_CnC_URL", "Demo_Botnet_CnC_URL.json")] * 3)])
    finally:
        store.close()


@pytest.fixture(scope="module")
def framers() -> Iterator[tuple[Framer, Framer]]:
    port = free_port()
    allowed, other = Framer(f"http://127.0.0.1:{port}/login"), \
        Framer(f"http://127.0.0.1:{port}/login")
    allowed.port = port  # type: ignore[attr-defined]
    try:
        yield allowed, other
    finally:
        allowed.close()
        other.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory,
            framers: tuple[Framer, Framer]) -> Iterator[Service]:
    from browser import make_users

    allowed, _ = framers
    folder = tmp_path_factory.mktemp("web")
    make_users(folder / "data")
    poison(folder / "data")
    second_tenant(folder / "data")
    config = ("[service]\nupdate_interval = 5\n[http]\ntls = false\n"
              'listen = "127.0.0.1:8080"\n'
              f'allowed_frame_hosts = ["{allowed.url.rstrip("/")}"]\n')
    running = launch(folder, config, allowed.port)  # type: ignore[attr-defined]
    try:
        yield running
    finally:
        stop(running)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as context:
        yield context


def sign_in(page: Any, base: str, user: str) -> None:
    page.context.clear_cookies()  # one profile for the module: start signed out
    page.goto(f"{base}/login")
    page.fill("#user", user)
    page.fill("#password", USERS[user][0])
    page.click("button[type=submit]")
    # an Administrator's first sign-in opens the first-run wizard
    page.wait_for_url(re.compile(re.escape(base) + r"/(setup)?$"))


def test_sign_in_lookup_and_every_page(service: Service, browser: Any) -> None:
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    base = service.url
    page.goto(f"{base}/detections")
    assert page.url.startswith(f"{base}/login?next=")
    screenshot(page, "01-sign-in")
    page.fill("#user", "admin1")
    page.fill("#password", "wrong")
    page.click("button[type=submit]")
    assert "Wrong user name or password" in page.inner_text("main")
    page.fill("#password", USERS["admin1"][0])
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/detections")
    screenshot(page, "03-detections")

    page.goto(f"{base}/lookup")
    page.fill("#value", "192.0.2.1")
    page.get_by_role("button", name="Look up", exact=True).click()
    page.wait_for_selector(".verdict")
    verdict = page.inner_text(".verdict")
    assert "detected" in verdict and "Demo_IP_Reputation" in verdict
    assert "exact 192.0.2.1" in verdict and "snapshot" in verdict
    screenshot(page, "04-lookup")

    for name, path in (("02-dashboard", "/"), ("05-indicators", "/indicators"),
                       ("06-indicator", "/indicators?value=203.0.113.66"),
                       ("07-add-to-internal-ti", "/indicators/add?value=203.0.113.77"),
                       ("08-feeds", "/feeds"), ("09-users", "/users"), ("10-audit", "/audit"),
                       ("11-settings", "/settings")):
        response = page.goto(base + path)
        assert response is not None and response.status == 200, path
        assert "trapline" in page.title()
        screenshot(page, name)
    detail = page.goto(base + "/detections")
    assert detail is not None
    page.get_by_role("link", name="Details").first.click()
    page.wait_for_selector("pre.event")
    screenshot(page, "12-detection")
    assert dialogs == []
    page.close()


def test_first_run_wizard_settings_preview_and_custom_feed(service: Service,
                                                            browser: Any) -> None:
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    base = service.url
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.fill("#user", "admin1")
    page.fill("#password", USERS["admin1"][0])
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/setup")
    assert "Welcome to trapline" in page.inner_text("main")
    page.get_by_label("Splunk").check()
    page.fill("#listen_host", "0.0.0.0")
    page.fill("#listen_port", "99999")
    page.fill("#output_host", "127.0.0.1")
    page.fill("#output_port", "9998")
    screenshot(page, "17-first-run-wizard")
    page.get_by_role("button", name="Finish setup").click()
    page.wait_for_selector("p.error")
    assert "is not HOST:PORT" in page.inner_text("p.error")
    assert page.is_checked("input[value=splunk]")  # the choices stay
    screenshot(page, "18-wizard-refused")
    page.get_by_label("Kaspersky KUMA").check()
    page.fill("#listen_port", "9999")
    page.fill("#proxy", "http://proxy.example.com:3128")
    page.get_by_role("button", name="Finish setup").click()
    page.wait_for_url(f"{base}/setup/done")
    main = page.inner_text("main")
    assert "apply / restart service" in main and 'listen = "0.0.0.0:9999"' in main
    assert 'rules = "kuma"' in main and "Category=Demo_Botnet_CnC_URL" in main
    screenshot(page, "19-wizard-done")
    sign_in(page, base, "admin1")
    assert page.url == f"{base}/"  # done: no more wizard

    page.goto(f"{base}/settings")
    page.fill("#tpl-detection", "hit=%MatchedIndicator% feed=%Feed%%RecordContext%")
    page.get_by_role("button", name="Preview").click()
    page.wait_for_selector(".preview pre.event")
    assert "hit=fakess123.nu feed=Demo_Botnet_CnC_URL.json" in page.inner_text(".preview")
    screenshot(page, "20-settings-preview")

    feed = service.data / "custom-feed.csv"
    feed.write_text("ip,comment\n" + "".join(f"198.51.100.{i},host {i}\n"
                                             for i in range(1, 31)))
    page.goto(f"{base}/feeds")
    page.get_by_role("link", name="Add a custom feed").click()
    page.wait_for_url(f"{base}/feeds/add")
    page.fill("#source", str(feed))
    page.fill("#name", "Custom_Blocklist")
    page.select_option("#format", "csv")
    page.get_by_role("button", name="Preview").click()
    page.wait_for_selector("table.records")
    assert "30 records" in page.inner_text("main")
    assert page.locator("table.records > tbody > tr").count() == 10
    screenshot(page, "21-custom-feed-preview")
    page.get_by_role("button", name="Add the feed").click()
    page.wait_for_url(f"{base}/feeds?notice=custom-added")
    assert "Custom_Blocklist" in page.inner_text("main")
    screenshot(page, "22-feeds-custom-waiting")
    assert dialogs == []
    page.close()


def test_add_to_internal_ti_is_detected_by_the_tcp_service(service: Service,
                                                           browser: Any) -> None:
    value = "203.0.113.123"
    assert "MatchedIndicator" not in tcp_lookup(service.tcp, "ip", value)
    page = browser.new_page()
    sign_in(page, service.url, "ana")
    page.goto(f"{service.url}/indicators?value={value}")
    page.get_by_role("link", name="Add to Internal TI").click()
    page.wait_for_url("**/indicators/add?value=*")
    page.fill("#category", "Console_Block")
    page.get_by_role("button", name="Add to Internal TI").click()
    page.wait_for_url("**/indicators?value=*notice=added")
    added = time.monotonic()
    assert "Added to InternalTI" in page.inner_text("main")
    answer = ""
    while time.monotonic() - added < 3:
        answer = tcp_lookup(service.tcp, "ip", value)
        if value in answer and "LookupFinished" in answer and "Category=" in answer:
            break
        time.sleep(0.1)
    took = time.monotonic() - added
    assert f"MatchedIndicator={value}" in answer, answer
    assert took < 1.5, f"detected after {took:.2f} s"
    page.close()


def test_an_analyst_cannot_open_settings(service: Service, browser: Any) -> None:
    page = browser.new_page()
    sign_in(page, service.url, "ana")
    nav = page.inner_text("header nav")
    assert "Settings" not in nav and "Users" not in nav and "Lookup" in nav
    response = page.goto(f"{service.url}/settings")
    assert response is not None and response.status == 403
    assert "Not allowed" in page.inner_text("main")
    screenshot(page, "13-analyst-refused-settings")
    page.close()


def test_script_payloads_render_inert(service: Service, browser: Any) -> None:
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, service.url, "admin1")
    for path in ("/indicators?value=203.0.113.66", "/indicators", "/detections", "/",
                 f"/indicators?q={XSS}", f"/lookup?value={XSS}"):
        page.goto(service.url + path)
        for link in page.query_selector_all("a"):
            href = (link.get_attribute("href") or "").strip().lower()
            assert not href.startswith("javascript:"), (path, href)
    page.goto(f"{service.url}/indicators?value=203.0.113.66")
    assert XSS in page.inner_text("main")  # shown as text
    screenshot(page, "14-xss-inert")
    assert dialogs == []
    page.close()


def test_framed_from_the_allowed_origin_only(service: Service, browser: Any,
                                             framers: tuple[Framer, Framer]) -> None:
    allowed, other = framers
    browser.clear_cookies()
    page = browser.new_page()
    page.goto(allowed.url)
    frame = page.frame_locator("#ui")
    frame.locator("#user").wait_for(timeout=10_000)
    assert "Sign in" in frame.locator("main").inner_text()
    screenshot(page, "15-embedded-allowed")
    page.goto(other.url)
    page.wait_for_timeout(800)
    child = [f for f in page.frames if f != page.main_frame]
    assert child, "no iframe"
    blocked = child[0]
    assert blocked.query_selector("#user") is None
    screenshot(page, "16-embedded-refused")
    page.close()


def test_an_administrator_switches_tenant_and_tags_an_entry(service: Service,
                                                            browser: Any) -> None:
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    base = service.url
    sign_in(page, base, "admin1")
    page.goto(f"{base}/detections")
    assert "Tenant General" in page.inner_text("main")
    picker = page.get_by_label("Tenant", exact=True).first
    picker.focus()  # the keyboard's way: choose, then Tab to Switch and Enter
    picker.select_option("Acme")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/detections?tenant=Acme")
    main = page.inner_text("main")
    assert "Tenant Acme" in main and "acme-phish.example" in main and XSS not in main
    assert page.input_value("#tenant-picker") == "Acme"
    screenshot(page, "23-tenant-picker")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Indicators").click()
    page.wait_for_url(f"{base}/indicators?tenant=Acme")
    page.get_by_role("link", name="Tags", exact=True).click()
    page.wait_for_url(f"{base}/indicators/tags?tenant=Acme")
    page.fill("#tag-name", "acme-phishing")
    page.fill("#tag-description", "Lures aimed at Acme staff")
    page.get_by_role("button", name="Create tag").click()
    page.wait_for_url("**/indicators/tags?notice=created&tenant=Acme")
    assert "acme-phishing" in page.inner_text("main")

    page.goto(f"{base}/indicators?tenant=Acme")
    page.get_by_role("link", name="acme-phish.example").click()
    page.wait_for_url("**/indicators?value=acme-phish.example&tenant=Acme")
    page.select_option("#add-tag-InternalTI", "acme-phishing")
    page.get_by_role("button", name="Add tag").click()
    page.wait_for_url("**/indicators?value=acme-phish.example&notice=tagged&tenant=Acme")
    assert "Tag added." in page.inner_text("main")
    assert page.get_by_role("button", name="Remove tag acme-phishing from InternalTI").count()
    screenshot(page, "24-tags")
    page.get_by_role("link", name="Tags", exact=True).click()
    page.wait_for_url(f"{base}/indicators/tags?tenant=Acme")
    screenshot(page, "25-tag-list")
    assert dialogs == []
    page.close()

    store = open_store(service.data)
    try:
        entry = store.indicators.get(INTERNAL_TI, "acme-phish.example", tenant="Acme")
        assert entry.tags == ("acme-phishing",)
        assert [t.name for t in store.tags.all()] == [XSS]  # General's tags unchanged
        actions = [a.action for a in store.audit.search(actor="admin1", limit=5).items]
        assert actions[:2] == ["indicators.tag", "tag.create"]
    finally:
        store.close()
