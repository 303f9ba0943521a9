"""The first-run wizard, the service settings form and adding a custom feed, in process:
what is kept, what is refused (and that a refusal keeps nothing), who may."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import httpx
from api_env import ORIGIN, PASSWORD, run
from pages import sign_in

from trapline.web import runtime

H = {"Origin": ORIGIN}
WIZARD = {"siem": "kuma", "listen_host": "0.0.0.0", "listen_port": "9999",
          "output_host": "127.0.0.1", "output_port": "9998", "proxy": "", "proxy_user": "",
          "proxy_password": ""}


def stored(env: Any) -> dict[str, Any]:
    return {s.key: s.value for s in env.store.settings.all()}


def service_form(**changes: str) -> dict[str, str]:
    form = {"service.listen": "0.0.0.0:9999", "output.address": "127.0.0.1:9998",
            "output.protocol": "tcp", "output.framing": "raw", "service.rules": "generic",
            "service.update_interval": "60", "service.max_line_bytes": "65536",
            "service.idle_timeout": "300", "service.max_connections": "10000",
            "http.max_body_mb": "64", "http.allowed_frame_hosts": "",
            "tpl_detection": runtime.Templates().detection, "proxy": "", "proxy_user": ""}
    form.update(changes)
    return form


def test_an_analyst_opens_and_changes_none_of_it(env: Any) -> None:
    async def go() -> None:
        async with env.client() as client:
            token = await sign_in(client, "alice")
            for path in ("/setup", "/setup/done", "/feeds/add", "/settings/config.toml"):
                response = await client.get(path)
                assert response.status_code == 403, path
                assert "Not allowed" in response.text
            for path, data in (("/setup", WIZARD), ("/setup/skip", {}),
                               ("/settings/service", service_form(action="save")),
                               ("/feeds/add", {"source": "/x", "action": "save"}),
                               ("/feeds/custom/delete", {"name": "x"})):
                response = await client.post(path, data={**data, "csrf_token": token},
                                             headers=H)
                assert response.status_code == 403, path
            feeds = await client.get("/feeds")
            assert "/feeds/add" not in feeds.text
            dashboard = await client.get("/")
            assert "/setup" not in dashboard.text

    run(go())
    assert stored(env) == {}


def test_an_administrator_is_sent_to_the_wizard_until_it_is_done(env: Any) -> None:
    async def login(client: httpx.AsyncClient) -> str:
        response = await client.post("/login", data={"user": "root", "password": PASSWORD,
                                                      "next": "/"}, headers=H)
        assert response.status_code == 303
        return response.headers["location"]

    async def go() -> None:
        async with env.client() as client:
            assert await login(client) == "/setup"
            page = await client.get("/setup")
            assert page.status_code == 200 and "Welcome to trapline" in page.text
            for label in ("Kaspersky KUMA", "Splunk", "IBM QRadar", "ArcSight",
                          "Generic syslog"):
                assert label in page.text
            assert 'value="0.0.0.0"' in page.text and 'value="9999"' in page.text
            assert 'value="127.0.0.1"' in page.text and 'value="9998"' in page.text
            assert "/setup" in (await client.get("/")).text  # the dashboard reminds
        async with env.client() as client:
            token = await sign_in(client, "root")
            done = await client.post("/setup", data={**WIZARD, "siem": "arcsight",
                                                     "output_port": "9998",
                                                     "proxy": "http://proxy.corp:3128",
                                                     "proxy_user": "svc",
                                                     "proxy_password": "s3cret-pw",
                                                     "csrf_token": token}, headers=H)
            assert done.status_code == 303 and done.headers["location"] == "/setup/done"
            page = await client.get("/setup/done")
            assert "apply / restart service" in page.text
            assert "CEF:0|trapline" in page.text and "s3cret-pw" not in page.text
            toml = await client.get("/settings/config.toml")
            assert toml.headers["content-type"].startswith("application/toml")
            parsed = tomllib.loads(toml.text)
            # the addresses are the configuration's already: only the changes to apply
            assert parsed["service"] == {"rules": "cef"}
            assert "address" not in parsed["output"]
            assert parsed["output"]["templates"]["detection"].startswith("CEF:0|")
            assert "s3cret-pw" not in toml.text and "proxy.corp" in toml.text
            settings = await client.get("/settings")
            assert "s3cret-pw" not in settings.text
        async with env.client() as client:
            assert await login(client) == "/"

    run(go())
    kept = stored(env)
    assert kept["setup.completed"] is True and kept["setup.siem"] == "arcsight"
    assert kept["service.rules"] == "cef" and kept["feeds.proxy"] == "http://proxy.corp:3128"
    assert kept["feeds.proxy_password"] == "s3cret-pw"


def test_the_wizard_refuses_invalid_values_and_keeps_nothing(env: Any) -> None:
    cases = [({"listen_port": "70000"}, "is not HOST:PORT"),
             ({"listen_port": "99x"}, "is not HOST:PORT"),
             ({"output_host": ""}, "is not HOST:PORT"),
             ({"siem": "elastic"}, "choose the SIEM"),
             ({"proxy": "ftp://proxy:21"}, "http://HOST:PORT"),
             ({"proxy": "http://u:p@proxy:3128"}, "own fields"),
             ({"proxy_user": "bob"}, "needs a proxy address")]

    async def go() -> None:
        async with env.client() as client:
            token = await sign_in(client, "root")
            for change, message in cases:
                response = await client.post("/setup", data={**WIZARD, **change,
                                                              "csrf_token": token}, headers=H)
                assert response.status_code == 400, change
                assert "Refused" in response.text and message in response.text, change
                assert 'role="alert"' in response.text

    run(go())
    assert stored(env) == {}


def test_skipping_the_wizard(env: Any) -> None:
    async def go() -> None:
        async with env.client() as client:
            token = await sign_in(client, "root")
            response = await client.post("/setup/skip", data={"csrf_token": token}, headers=H)
            assert response.status_code == 303
            assert "/setup" not in (await client.get("/")).text

    run(go())
    assert stored(env) == {"setup.completed": "skipped"}


def test_service_settings_preview_save_and_refusals(env: Any) -> None:
    async def go() -> None:
        async with env.client() as client:
            token = await sign_in(client, "root")
            page = await client.get("/settings")
            assert "Preview: a sample detection" in page.text
            assert "MatchedIndicator=fakess123.nu" in page.text

            async def post(**changes: str) -> httpx.Response:
                return await client.post("/settings/service", data={
                    **service_form(**changes), "csrf_token": token}, headers=H)

            shown = await post(action="preview",
                               tpl_detection="hit=%MatchedIndicator% feed=%Feed%")
            assert shown.status_code == 200
            assert "hit=fakess123.nu feed=Demo_Botnet_CnC_URL.json" in shown.text
            assert "nothing is saved" in shown.text
            for change, message in (
                    ({"tpl_detection": "%Categroy%"}, "unknown placeholder %Categroy%"),
                    ({"service.listen": "nowhere"}, "is not HOST:PORT"),
                    ({"output.protocol": "sctp"}, "tcp or udp"),
                    ({"service.max_line_bytes": "12"}, "1 KiB to 64 MiB"),
                    ({"service.update_interval": "soon"}, "is not a number"),
                    ({"service.rules": "nope"}, "no rule set named"),
                    ({"http.allowed_frame_hosts": "kuma.example.com\nbad host/x"},
                     "is not host[:port]"),
                    ({"http.max_body_mb": "0"}, "1 to 1024"),
                    ({"proxy": "proxy.corp:3128"}, "http://HOST:PORT")):
                for action in ("preview", "save"):
                    response = await post(action=action, **change)
                    assert response.status_code == 400, change
                    assert message in response.text, (change, response.text[:3000])
            assert stored(env) == {}
            saved = await post(action="save", **{"service.listen": "0.0.0.0:10999",
                                                 "service.rules": "kuma",
                                                 "http.allowed_frame_hosts":
                                                     "kuma.example.com:7220\r\n"})
            assert saved.status_code == 303
            page = await client.get(saved.headers["location"])
            assert "apply / restart service" in page.text
            assert 'listen = &#34;0.0.0.0:10999&#34;' in page.text
            assert stored(env) == {"service.listen": "0.0.0.0:10999", "service.rules": "kuma",
                                   "http.allowed_frame_hosts": ["kuma.example.com:7220"]}
            # back to the file's values: those run-time settings go away
            await post(action="save", **{"service.listen": "0.0.0.0:10999"})

    run(go())
    assert stored(env) == {"service.listen": "0.0.0.0:10999"}


def write_feed(env: Any) -> Path:
    folder = env.data_dir / "uploads"
    folder.mkdir(exist_ok=True)
    path = folder / "custom.csv"
    rows = ["ip,comment", *(f"198.51.100.{i},host {i} <script>x</script>"
                            for i in range(1, 26)), "not an indicator,x"]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_custom_feed_preview_then_keep(env: Any) -> None:
    path = write_feed(env)
    form = {"source": str(path), "format": "csv", "name": "My_Custom", "category": "Custom_IP",
            "schedule": "60", "header": "yes", "value_column": "ip"}

    async def go() -> None:
        async with env.client() as client:
            token = await sign_in(client, "root")
            shown = await client.post("/feeds/add", data={**form, "action": "preview",
                                                          "csrf_token": token}, headers=H)
            assert shown.status_code == 200, shown.text
            assert "198.51.100.1<" in shown.text and "198.51.100.10<" in shown.text
            assert "198.51.100.11<" not in shown.text  # the first ten only
            assert "26 records" in shown.text  # the CSV reader keeps every row
            assert "<script>x" not in shown.text and "&lt;script&gt;x" in shown.text
            assert stored(env) == {}
            kept = await client.post("/feeds/add", data={**form, "action": "save",
                                                         "csrf_token": token}, headers=H)
            assert kept.status_code == 303
            feeds = await client.get("/feeds?notice=custom-added")
            assert "My_Custom" in feeds.text and "apply / reload service" in feeds.text
            again = await client.post("/feeds/add", data={**form, "action": "save",
                                                          "csrf_token": token}, headers=H)
            assert again.status_code == 400 and "exists" in again.text
            toml = tomllib.loads((await client.get("/settings/config.toml")).text)
            assert toml["feeds"][0]["name"] == "My_Custom"
            assert toml["feeds"][0]["csv"] == {"header": True, "value_column": "ip"}
            gone = await client.post("/feeds/custom/delete", data={
                "name": "My_Custom", "csrf_token": token}, headers=H)
            assert gone.status_code == 303

    run(go())
    assert stored(env) == {}


def test_custom_feed_refusals_keep_nothing(env: Any, tmp_path: Path) -> None:
    outside = tmp_path.parent / "outside.csv"
    outside.write_text("198.51.100.1\n")
    empty = env.data_dir / "empty.txt"
    empty.write_text("# nothing\n")
    cases = [({"source": "/etc/passwd"}, "must be inside"),
             ({"source": str(outside)}, "must be inside"),
             ({"source": "relative/path.csv"}, "absolute path"),
             ({"source": "ftp://example.com/x"}, "absolute path"),
             ({"source": ""}, "give the feed"),
             ({"source": str(empty), "format": "nope"}, "is not one of"),
             ({"source": str(empty), "schedule": "7"}, "is not one of"),
             ({"source": str(empty), "mapping": "{oops"}, "not JSON"),
             ({"source": str(empty), "name": "Demo_IP_Reputation.json"}, "exists"),
             ({"source": "http://127.0.0.1:9/feed.csv"}, "no record"),
             ({"source": str(empty), "format": "plain"}, "no record")]

    async def go() -> None:
        async with env.client() as client:
            token = await sign_in(client, "root")
            for change, message in cases:
                response = await client.post("/feeds/add", data={
                    "format": "auto", **change, "action": "save", "csrf_token": token},
                    headers=H)
                assert response.status_code == 400, change
                assert message in response.text, (change, response.text[-3000:])

    run(go())
    assert stored(env) == {}
