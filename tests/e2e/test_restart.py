"""The Settings page's "Restart now" against a real `trapline serve`: a new listen port
kept in the store is bound by the same process (same PID) after the restart, and a
restart that could not start (the new port is taken) is refused while the service
keeps answering."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from subprocesses import tcp_lookup, terminate
from syslog_receivers import free_port, wait_listening

from trapline.security.passwords import hash_password
from trapline.store import SYSTEM, open_store

PASSWORD = "restart-admin-secret"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
DEMO_IP = "192.0.2.1"  # in Demo_IP_Reputation.json


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    folder: Path
    tcp: int
    http: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def config_text(tcp: int, http: int, output: int) -> str:
    return (f'[service]\nlisten = "127.0.0.1:{tcp}"\nupdate_interval = 5\n'
            f'[output]\naddress = "127.0.0.1:{output}"\n'
            f'[http]\ntls = false\nlisten = "127.0.0.1:{http}"\n')


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    data = tmp_path / "data"
    store = open_store(data)
    try:
        store.users.create(SYSTEM, "boss", hash_password(PASSWORD), role="Administrator")
        store.users.create(SYSTEM, "ana", hash_password(PASSWORD), role="Analyst")
    finally:
        store.close()
    tcp, http = free_port(), free_port()
    (tmp_path / "trapline.toml").write_text(config_text(tcp, http, free_port()))
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:  # a file, not a pipe nobody reads
        process = subprocess.Popen(
            [sys.executable, "-m", "trapline", "serve", "--config",
             str(tmp_path / "trapline.toml"), "--data-dir", str(data), "--workers", "1"],
            stdout=sink, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    running = Served(process, tmp_path, tcp, http, log)
    try:
        wait_listening(process, tcp, http)  # type: ignore[arg-type]
        yield running
    finally:
        terminate(process, 30)


def lookup(port: int, value: str = DEMO_IP) -> str:
    return tcp_lookup(port, "ip", value)


def accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def signed_in(http: int, user: str = "boss") -> tuple[httpx.Client, str]:
    """A client with a session cookie and the CSRF token the pages carry."""
    origin = f"http://127.0.0.1:{http}"
    client = httpx.Client(base_url=origin, headers={"Origin": origin}, timeout=30)
    response = client.post("/api/v1/session", json={"user": user, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return client, response.json()["csrf_token"]


def keep_listen(client: httpx.Client, token: str, address: str) -> None:
    response = client.put("/api/v1/settings/service.listen", json={"value": address},
                          headers={"X-CSRF-Token": token})
    assert response.status_code == 200, response.text


def wait_until(condition, timeout: float = 60.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_restart_binds_the_new_addresses_in_the_same_process(served: Served) -> None:
    assert "Demo_IP_Reputation" in lookup(served.tcp)
    pid = served.process.pid
    client, token = signed_in(served.http)
    boot = client.get("/settings/restart/status").json()["boot"]
    settings = client.get("/settings")
    assert settings.status_code == 200 and "Restart now" in settings.text
    new_tcp, new_http = free_port(), free_port()
    keep_listen(client, token, f"127.0.0.1:{new_tcp}")  # the Settings' service.listen
    # http.listen is the configuration file's: edit it there, as an operator would
    config = served.folder / "trapline.toml"
    config.write_text(config.read_text().replace(f"127.0.0.1:{served.http}",
                                                 f"127.0.0.1:{new_http}"))

    page = client.post("/settings/restart", data={"csrf_token": token})
    assert page.status_code == 200, page.text
    assert "The service is restarting" in page.text
    assert f"127.0.0.1:{new_tcp}" in page.text
    assert f"http://127.0.0.1:{new_http}/settings?notice=restarted" in page.text  # it moves
    client.close()

    wait_listening(served.process, new_tcp, new_http)  # type: ignore[arg-type]
    wait_until(lambda: not accepts(served.tcp) and not accepts(served.http), 30,
               "the old ports to close")
    assert served.process.poll() is None and served.process.pid == pid
    assert "Demo_IP_Reputation" in lookup(new_tcp)
    again, _ = signed_in(new_http)  # the same session key: signing in still works
    assert again.get("/settings/restart/status").json()["boot"] != boot
    audit = again.get("/api/v1/audit", params={"action": "service.restart"})
    assert audit.status_code == 200, audit.text
    [entry] = audit.json()["items"]
    assert entry["actor"] == "boss" and entry["details"]["listen"] == f"127.0.0.1:{new_tcp}"
    again.close()
    log = served.output()
    assert "KL_ALERT_ServiceRestarting" in log
    assert "KL_ALERT_ServiceStopped" not in log
    assert log.count("KL_ALERT_ServiceStarted") == 2
    assert "Traceback" not in log and "leaked" not in log, log


def test_a_restart_that_could_not_start_is_refused(served: Served) -> None:
    client, token = signed_in(served.http)
    with socket.socket() as squatter:  # another program holds the new port
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        keep_listen(client, token, f"127.0.0.1:{taken}")
        page = client.post("/settings/restart", data={"csrf_token": token})
        assert page.status_code == 409, page.text
        assert "Restart refused, the service keeps running" in page.text
        assert f"cannot listen on 127.0.0.1:{taken}" in page.text
        # the supervisor checks again itself: a SIGUSR2 straight to it is refused too
        served.process.send_signal(signal.SIGUSR2)
        wait_until(lambda: "restart refused" in served.output(), 30, "the refusal's log")
        time.sleep(1.0)
        assert served.process.poll() is None
        assert "Demo_IP_Reputation" in lookup(served.tcp)
        assert client.get("/settings").status_code == 200
    # an Analyst may not restart, and no restart goes without the CSRF token
    analyst, analyst_token = signed_in(served.http, "ana")
    assert analyst.post("/settings/restart",
                        data={"csrf_token": analyst_token}).status_code == 403
    assert client.post("/settings/restart", data={}).status_code == 403
    client.close()
    analyst.close()
    assert served.process.poll() is None and "Demo_IP_Reputation" in lookup(served.tcp)
    assert "KL_ALERT_ServiceRestarting" not in served.output()
