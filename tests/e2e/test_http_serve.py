"""`trapline serve` with its HTTP API, as a real process: plain HTTP on loopback and HTTPS.

The users are real: made in the data directory's store (argon2 hashes) before the
service starts, as `trapline users add` makes them.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families
from syslog_receivers import Receiver, free_port, wait_listening

from trapline.security.passwords import hash_password
from trapline.store import SYSTEM, open_store

USERS = {  # user: (password, role, tenant)
    "kuma": ("kuma-secret", "Analyst", "General"),
    "acme": ("acme-secret", "Analyst", "Acme"),
}
KUMA = ("kuma", "kuma-secret")
PLAIN = '[http]\ntls = false\nlisten = "127.0.0.1:8080"\n'  # --http gives the port
DEMO_HITS = {  # value: a category it must be found in
    "192.0.2.1": "Demo_IP_Reputation",
    "198.51.100.7": "Demo_IP_Reputation",
    "2001:db8:dead::beef": "Demo_IP_Reputation",
    "http://malicious.trapline-demo.test/path?q=1": "Demo_Botnet_CnC_URL",
    "http://phish.trapline-demo.test/login/index.html": "Demo_Botnet_CnC_URL",
    "http://a.c2.trapline-demo.test/": "Demo_Botnet_CnC_URL",
    "http://c2.trapline-demo.test/gate.php": "Demo_Botnet_CnC_URL",
    "fakess123.nu": "Demo_Botnet_CnC_URL",
    "e6301b768ef6f9946cbca6d55e2bb10c": "Demo_Botnet_CnC_Hash",
    "4CE055D506BC77EFCD3B1294121B25A355A682B9": "Demo_Malicious_Hash",
    "1d8ce479d7be5c2628379b8ee2e2c0e78e95a0fe79bcb2093e1ae4d14193d8a0": "Demo_Malicious_Hash",
    "776735A8CA96DB15B422879DA599F474": "Demo_Malicious_Hash",
}


@dataclass
class Service:
    process: subprocess.Popen[str]
    url: str
    data: Path

    def workers(self) -> list[psutil.Process]:
        return [p for p in psutil.Process(self.process.pid).children(recursive=True)
                if "resource_tracker" not in " ".join(p.cmdline())]

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=KUMA, timeout=60, **kwargs)  # type: ignore[arg-type]


def make_users(data: Path) -> None:
    """The test users, in the store of ``data`` (once)."""
    store = open_store(data)
    try:
        for name, (password, role, tenant) in USERS.items():
            if store.users.find(name) is not None:
                continue
            if tenant not in {t.name for t in store.tenants.all()}:
                store.tenants.create(SYSTEM, tenant)
            store.users.create(SYSTEM, name, hash_password(password), role=role, tenant=tenant)
    finally:
        store.close()


def launch(folder: Path, output: int, config: str = PLAIN,
           workers: int = 1, port: int | None = None, scheme: str = "http") -> Service:
    """``trapline serve --http 127.0.0.1:PORT``, once both ports accept connections."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "trapline.toml").write_text("[service]\nupdate_interval = 5\n" + config)
    make_users(folder / "data")
    tcp, http = free_port(), port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "trapline", "serve", "--config", str(folder / "trapline.toml"),
         "--data-dir", str(folder / "data"), "--listen", f"127.0.0.1:{tcp}",
         "--output", f"127.0.0.1:{output}", "--workers", str(workers),
         "--http", f"127.0.0.1:{http}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"))
    wait_listening(process, tcp, http)
    return Service(process, f"{scheme}://127.0.0.1:{http}", folder / "data")


def stop(service: Service) -> None:
    service.process.send_signal(signal.SIGTERM)
    try:
        service.process.wait(30)
    except subprocess.TimeoutExpired:
        service.process.kill()
        service.process.wait()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[Service]:
    running = launch(tmp_path_factory.mktemp("http"), receiver.port)
    try:
        yield running
    finally:
        stop(running)


def batch(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    hits = list(DEMO_HITS)
    return [rng.choice(hits) if rng.random() < 0.5 else
            f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
            if rng.random() < 0.5 else f"http://clean{rng.randrange(10**6)}.example/x"
            for _ in range(count)]


def check_answers(asked: list[str], entries: list[dict[str, object]]) -> None:
    assert [e["object"] for e in entries] == asked
    for value, entry in zip(asked, entries, strict=True):
        if value in DEMO_HITS:
            assert entry["result"] == "detected", value
            categories = entry["categories"]
            assert isinstance(categories, list)
            assert DEMO_HITS[value] in {c["category"] for c in categories}
            assert all(set(c) == {"category", "detected_indicator", "context"}
                       for c in categories)
        else:
            assert entry == {"object": value, "result": "not detected", "categories": []}


def test_kuma_style_client_sends_batches_of_a_thousand(service: Service) -> None:
    """KUMA's cybertrace-http: Basic auth, JSON batches, one keep-alive connection."""
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    with service.client(headers=headers) as client:
        for seed in range(3):
            asked = batch(1000, seed)
            response = client.post("/api/1.1/lookup", json=[{"object": v} for v in asked])
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/json"
            check_answers(asked, response.json())


def test_every_api_version_and_the_tenant_route(service: Service) -> None:
    asked = ["192.0.2.1", "203.0.113.9", "тест.рф"]
    body = [{"object": v} for v in asked]
    with service.client() as client:
        answers = [client.post(path, json=body).json() for path in (
            "/api/1.0/lookup", "/api/1.1/lookup", "/api/1.2/lookup", "/api/1.3/General/lookup")]
        assert all(a == answers[0] for a in answers)
        check_answers(asked, answers[0])
        other = client.post("/api/1.3/Acme/lookup", json=body)
        assert other.status_code == 403
        assert other.json() == [{"status": "error", "reason":
                                 "user 'kuma' may not look up in tenant 'Acme'"}]
    with httpx.Client(base_url=service.url, auth=("acme", "acme-secret")) as client:
        assert client.post("/api/1.3/Acme/lookup", json=body).json() == answers[0]


@pytest.mark.parametrize(("body", "status", "reason"), [
    (b"[{\"object\": ", 400, "malformed request"),
    (b"{\"object\": \"192.0.2.1\"}", 400, "Expected `array`, got `object`"),
    (b"[{\"object\": 1}]", 400, "Expected `str`, got `int` - at `$[0].object`"),
    (b"[\"192.0.2.1\"]", 400, "Expected `object`, got `str` - at `$[0]`"),
    (b"[]", 400, "at least one object"),
])
def test_bad_requests_get_the_error_shape(service: Service, body: bytes, status: int,
                                          reason: str) -> None:
    with service.client() as client:
        response = client.post("/api/1.1/lookup", content=body)
    assert response.status_code == status
    [error] = response.json()
    assert error["status"] == "error" and reason in error["reason"]


def test_missing_or_wrong_credentials_are_401(service: Service) -> None:
    body = [{"object": "192.0.2.1"}]
    for auth in (None, ("kuma", "wrong"), ("mallory", "kuma-secret")):
        response = httpx.post(f"{service.url}/api/1.1/lookup", json=body, auth=auth)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Basic realm="trapline"'
        assert response.json()[0]["status"] == "error"
    with service.client() as client:
        assert client.get("/api/1.1/lookup").status_code == 405
        assert client.post("/api/2.0/lookup", json=body).json() == [
            {"status": "error", "reason": "request not supported: POST /api/2.0/lookup"}]


def test_a_65_mb_body_is_refused_without_the_memory_growing(service: Service) -> None:
    size = 65 << 20
    with service.client() as client:  # warm up: first lookups fault pages in
        client.post("/api/1.1/lookup", json=[{"object": v} for v in batch(1000, 9)])
    rss_before = sum(p.memory_info().rss for p in service.workers())
    # Declared by Content-Length: refused before a byte of the body is sent.
    host, port = service.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"POST /api/1.1/lookup HTTP/1.1\r\nHost: trapline\r\n"
                     b"Authorization: Basic a3VtYTprdW1hLXNlY3JldA==\r\n"
                     b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % size)
        answer = b""
        while b"bytes\"}]" not in answer:  # the head, then the body, maybe apart
            chunk = sock.recv(65536)
            assert chunk, answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b'"request body of 68157440 bytes is over the limit of 67108864 bytes"' in answer
    # Sent whole anyway: read and thrown away as it streams, and the answer is the same.
    item = b'{"object": "192.0.2.1"},'
    body = b"[" + item * (size // len(item)) + b'{"object": "x"}]'
    assert len(body) > size
    with service.client() as client:
        response = client.post("/api/1.1/lookup", content=body)
        assert response.status_code == 413
        assert "over the limit of 67108864 bytes" in response.json()[0]["reason"]
        del body
        # and the service is as it was
        assert client.post("/api/1.1/lookup", json=[{"object": "192.0.2.1"}]).status_code == 200
    rss_after = sum(p.memory_info().rss for p in service.workers())
    assert rss_after - rss_before < 8 << 20, (rss_before, rss_after)


def test_healthz_and_metrics(service: Service) -> None:
    def counters() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = httpx.get(f"{service.url}/metrics").text
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}

    health = httpx.get(f"{service.url}/healthz").json()
    assert health["status"] == "ok" and health["snapshot"] >= 1 and health["worker"] == 1
    before = counters()
    with service.client() as client:
        client.post("/api/1.1/lookup", json=[{"object": v} for v in batch(250, 5)])
        client.post("/api/1.1/lookup", json=[])
    after = counters()
    worker = (("worker", "1"),)
    key = ("trapline_http_observables_total", worker)
    assert after[key] - before.get(key, 0) == 250
    ok = ("trapline_http_requests_total",
          (("route", "/api/{version}/lookup"), ("status", "200"), ("worker", "1")))
    assert after[ok] - before.get(ok, 0) == 1
    bad = ("trapline_http_bad_requests_total", worker)
    assert after[bad] - before.get(bad, 0) == 1
    assert after[("trapline_snapshot_version", worker)] == health["snapshot"]
    # The counters of the worker's parts are there too: the verdict cache, the output.
    misses = ("trapline_lookup_cache_misses_total", worker)
    assert after[misses] - before.get(misses, 0) > 0
    assert ("trapline_output_sent_total", worker) in after


def test_two_workers_answer_on_the_shared_port(tmp_path: Path, receiver: Receiver) -> None:
    service = launch(tmp_path, receiver.port, workers=2)
    try:
        deadline = time.monotonic() + 60  # the port answers once the first worker is up
        while len(service.workers()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(service.workers()) == 2
        seen: dict[int, list[dict[str, object]]] = {}
        deadline = time.monotonic() + 30
        while len(seen) < 2 and time.monotonic() < deadline:
            with service.client() as client:  # a new connection each time
                worker = client.get("/healthz").json()["worker"]
                answer = client.post("/api/1.1/lookup", json=[{"object": "192.0.2.1"}])
                seen.setdefault(worker, answer.json())
        assert sorted(seen) == [1, 2]
        assert all(a[0]["result"] == "detected" for a in seen.values())
    finally:
        stop(service)


def test_https_with_a_certificate_made_once(tmp_path: Path, receiver: Receiver) -> None:
    port = free_port()
    service = launch(tmp_path, receiver.port, config="", port=port, scheme="https")
    cert, key = service.data / "tls/cert.pem", service.data / "tls/key.pem"
    try:
        first = cert.read_bytes()
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        trust = ssl.create_default_context(cafile=cert)
        for host in ("localhost", "127.0.0.1"):
            with httpx.Client(base_url=f"https://{host}:{port}", auth=KUMA,
                              verify=trust) as client:
                response = client.post("/api/1.1/lookup", json=[{"object": "192.0.2.1"}])
                assert response.json()[0]["result"] == "detected"
        with pytest.raises(httpx.ConnectError):  # not trusted without the certificate
            httpx.get(f"https://localhost:{port}/healthz")
        with pytest.raises(httpx.RemoteProtocolError):  # no plain HTTP on the HTTPS port
            httpx.get(f"http://127.0.0.1:{port}/healthz")
    finally:
        stop(service)
    service = launch(tmp_path, receiver.port, config="", port=port, scheme="https")
    try:
        assert cert.read_bytes() == first
        trust = ssl.create_default_context(cafile=cert)
        assert httpx.get(f"https://localhost:{port}/healthz", verify=trust).status_code == 200
    finally:
        stop(service)


def test_plain_http_on_a_public_address_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "trapline.toml"
    config.write_text(PLAIN)
    result = subprocess.run(
        [sys.executable, "-m", "trapline", "serve", "--config", str(config), "--data-dir",
         str(tmp_path / "data"), "--http", f"0.0.0.0:{free_port()}"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "http.tls = false is allowed only on a loopback address" in result.stderr
