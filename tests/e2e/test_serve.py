"""`trapline serve` as a real process: real sockets, the demo feeds, a syslog receiver."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from syslog_receivers import Receiver, free_port, rsyslog_or_skip

DEMO_URL = "http://malicious.trapline-demo.test/"
DEMO_MD5 = "e6301b768ef6f9946cbca6d55e2bb10c"


def wait_for(receiver: Receiver, text: str, timeout: float = 30.0) -> list[str]:
    """The received lines holding ``text``, once there is one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [line for line in receiver.snapshot() if text in line]
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never arrived; got {receiver.snapshot()[-5:]}")


class Service:
    def __init__(self, process: subprocess.Popen[str], port: int, receiver: Receiver,
                 config: Path) -> None:
        self.process = process
        self.port = port
        self.receiver = receiver
        self.config = config

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=20)
        return sock


def read_until(sock: socket.socket, marker: bytes, limit: int = 1 << 20) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        assert len(data) < limit
    return data


def launch(tmp_path: Path, config_text: str, output_port: int, *args: str) -> Service:
    """``trapline serve`` in a subprocess, once its event port accepts connections."""
    port = free_port()
    config = tmp_path / "trapline.toml"
    config.write_text(config_text, encoding="utf-8")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "trapline", "serve", "--config", str(config),
         "--data-dir", str(tmp_path / "data"), "--listen", f"127.0.0.1:{port}",
         "--output", f"127.0.0.1:{output_port}", "--workers", "1",
         "--http", f"127.0.0.1:{free_port()}", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    return Service(process, port, None, config)  # type: ignore[arg-type]


def stop(service: Service) -> None:
    service.process.send_signal(signal.SIGTERM)
    try:
        service.process.wait(30)
    except subprocess.TimeoutExpired:
        service.process.kill()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def service(tmp_path: Path, receiver: Receiver) -> Iterator[Service]:
    running = launch(tmp_path, "[service]\nupdate_interval = 5\n", receiver.port)
    running.receiver = receiver
    try:
        yield running
    finally:
        stop(running)


def test_splunk_style_client_gets_detections_then_finished(service: Service) -> None:
    with service.connect() as sock:
        sock.sendall(b"X-KF-SendFinishedEventX-KF-ReplyBack")
        sock.sendall(f"ip=192.0.2.1 md5={DEMO_MD5} url={DEMO_URL}\n".encode())
        reply = read_until(sock, b"LookupFinished").decode()
    lines = reply.strip().split("\n")
    assert lines[-1].startswith("LookupFinished")
    detections = "\n".join(lines[:-1])
    assert "MatchedIndicator=192.0.2.1" in detections
    assert f"MatchedIndicator={DEMO_MD5}" in detections
    assert "Category=Demo_Botnet_CnC_URL" in detections


def test_kuma_style_pairs_with_flags_in_the_same_segment(service: Service) -> None:
    with service.connect() as sock:
        sock.sendall(b"X-KF-ReplyBackX-KF-SendFinishedEvent"
                     b"ip=198.51.100.7|url=http://fakess123.nu|hash=" + DEMO_MD5.encode() + b"\n")
        reply = read_until(sock, b"LookupFinished").decode()
    assert "MatchedIndicator=198.51.100.0/24" in reply
    assert "MatchedIndicator=fakess123.nu" in reply


def test_flags_split_across_segments_and_ping(service: Service) -> None:
    with service.connect() as sock:
        sock.sendall(b"X-KF-Rep")
        time.sleep(0.3)
        sock.sendall(b"lyBackPI")
        time.sleep(0.3)
        sock.sendall(b"NG")
        assert read_until(sock, b"\n") == b"PONG\n"
    with service.connect() as sock:
        for part in (b"X-KF-SendFin", b"ishedEventX-KF-Reply", b"Back", b"ip=192.0.2.1\n"):
            sock.sendall(part)
            time.sleep(0.2)
        reply = read_until(sock, b"LookupFinished").decode()
    assert "MatchedIndicator=192.0.2.1" in reply


def test_bad_lines_cost_nothing_but_themselves(service: Service) -> None:
    with service.connect() as sock:
        sock.sendall(b"X-KF-SendFinishedEventX-KF-ReplyBack")
        sock.sendall(b"x" * (1 << 20) + b"\n")               # a 1 MB line: dropped
        sock.sendall(b"\xff\xfe ip=192.0.2.1 \xc0\xaf\r\n")   # invalid UTF-8: replaced
        reply = read_until(sock, b"LookupFinished").decode()
    assert "MatchedIndicator=192.0.2.1" in reply


def test_without_reply_back_detections_go_to_the_output(service: Service) -> None:
    wait_for(service.receiver, "alert=KL_ALERT_ServiceStarted")
    with service.connect() as sock:
        sock.sendall(b"src=10.0.0.1 dst=192.0.2.1 request=" + DEMO_URL.encode() + b"\n")
        time.sleep(0.5)
    found = wait_for(service.receiver, "MatchedIndicator=192.0.2.1")
    assert found[0].startswith("Category=Demo_IP_Reputation|MatchedIndicator=192.0.2.1")


def test_sighup_refuses_a_bad_config_and_applies_a_good_one(service: Service) -> None:
    wait_for(service.receiver, "alert=KL_ALERT_ServiceStarted")
    service.config.write_text("[service]\nworkers = -1\n", encoding="utf-8")
    service.process.send_signal(signal.SIGHUP)
    time.sleep(1.0)
    with service.connect() as sock:  # still serving on the old configuration
        sock.sendall(b"X-KF-SendFinishedEventX-KF-ReplyBackip=192.0.2.1\n")
        assert b"MatchedIndicator=192.0.2.1" in read_until(sock, b"LookupFinished")
    assert not [line for line in service.receiver.snapshot() if "ConfigurationUpdated" in line]
    service.config.write_text("[service]\nupdate_interval = 5\n", encoding="utf-8")
    service.process.send_signal(signal.SIGHUP)
    wait_for(service.receiver, "alert=KL_ALERT_ConfigurationUpdated")


def test_a_client_that_never_reads_slows_only_itself(service: Service) -> None:
    """One client floods events with reply-back and reads nothing; another is served."""
    flood = service.connect()
    flood.setblocking(False)
    flood.sendall(b"X-KF-ReplyBack")
    line = f"ip=192.0.2.1 md5={DEMO_MD5} url={DEMO_URL}\n".encode() * 200
    sent = 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # until the server stops reading this client
        try:
            sent += flood.send(line)
        except BlockingIOError:
            time.sleep(0.05)
            try:
                sent += flood.send(line)
            except BlockingIOError:
                break
    assert sent > 1 << 20  # the service took over a megabyte before pushing back
    started = time.monotonic()
    with service.connect() as other:
        other.sendall(b"X-KF-SendFinishedEventX-KF-ReplyBackip=192.0.2.1\n")
        assert b"MatchedIndicator=192.0.2.1" in read_until(other, b"LookupFinished")
    assert time.monotonic() - started < 15
    flood.close()


def test_a_thousand_idle_connections_do_not_block_a_lookup(service: Service) -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:  # this test process holds the client ends
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    idle = [service.connect() for _ in range(1000)]
    try:
        with service.connect() as sock:
            sock.sendall(b"X-KF-SendFinishedEventX-KF-ReplyBackip=192.0.2.1\n")
            assert b"MatchedIndicator=192.0.2.1" in read_until(sock, b"LookupFinished")
    finally:
        for sock in idle:
            sock.close()


def test_high_availability_request_ids_prefix_every_reply(tmp_path: Path,
                                                          receiver: Receiver) -> None:
    config = ('[service]\nupdate_interval = 5\n[[rule_sets]]\nname = "ha"\n'
              'preset = "keyvalue"\nmatch = "reqid="\nrequest_id = "reqid=(\\\\S+)"\n')
    service = launch(tmp_path, config, receiver.port)
    try:
        with service.connect() as sock:
            sock.sendall(b"X-KF-SendFinishedEventX-KF-ReplyBack"
                         b"reqid=R42 ip=192.0.2.1\nreqid=R43 ip=203.0.113.9\n")
            reply = read_until(sock, b"R43 LookupFinished").decode()
    finally:
        stop(service)
    lines = reply.strip().split("\n")
    assert lines[0].startswith("R42 Category=Demo_IP_Reputation|MatchedIndicator=192.0.2.1")
    assert lines[1:] == ["R42 LookupFinished", "R43 LookupFinished"]


def test_real_eve_events_find_the_known_sofacy_hits(tmp_path: Path, receiver: Receiver,
                                                    shared_data: Path) -> None:
    """The Sofacy capture's DNS queries hit signature-base's c2-iocs.txt (data README)."""
    feed = shared_data / "feeds/neo23x0-signature-base/c2-iocs.txt"
    events = shared_data / "events/suricata-eve-generated"
    eve = events / "0031_tests_bug-2158_public-ex1_section8_Sofacy.eve.json"
    service = launch(tmp_path, '[service]\nrules = "eve"\n', receiver.port,
                     "--feed", str(feed))
    try:
        lines = eve.read_bytes().splitlines()
        with service.connect() as sock:
            sock.sendall(b"X-KF-SendFinishedEventX-KF-ReplyBack" + b"\n".join(lines) + b"\n")
            reply = b""
            while reply.count(b"LookupFinished") < len(lines):
                chunk = sock.recv(65536)
                assert chunk
                reply += chunk
    finally:
        stop(service)
    text = reply.decode()
    assert "MatchedIndicator=drivres-update.info" in text
    assert "MatchedIndicator=softupdates.info" in text


def test_detections_reach_a_real_rsyslog(tmp_path: Path) -> None:
    rsyslog = rsyslog_or_skip(tmp_path).start()
    service = launch(tmp_path, "[service]\nupdate_interval = 5\n", rsyslog.tcp_port)
    try:
        rsyslog.wait_count(1)  # KL_ALERT_ServiceStarted
        with service.connect() as sock:
            sock.sendall(b"dst=192.0.2.1 url=" + DEMO_URL.encode() + b"\n")
        deadline = time.monotonic() + 30
        while not any("MatchedIndicator=192.0.2.1" in line for line in rsyslog.lines()):
            assert time.monotonic() < deadline, rsyslog.lines()
            time.sleep(0.1)
    finally:
        stop(service)
        rsyslog.stop()
    lines = rsyslog.lines()
    assert any(line.startswith("Category=Demo_IP_Reputation|MatchedIndicator=192.0.2.1")
               for line in lines)
    assert any("alert=KL_ALERT_ServiceStarted" in line for line in lines)


def test_receiver_down_for_30_seconds_loses_nothing_with_the_spool(tmp_path: Path) -> None:
    """Detections made while the receiver is down wait in the spool and all arrive later."""
    port = free_port()
    config = (f'[service]\nupdate_interval = 5\n[output]\nspool_dir = "{tmp_path / "spool"}"\n'
              "retries = 2\nretry_interval = 1\n")
    service = launch(tmp_path, config, port)
    try:
        with service.connect() as sock:
            sock.sendall(b"".join(b"n=%d dst=192.0.2.1\n" % i for i in range(500)))
            time.sleep(1)
        time.sleep(30)
        with Receiver(port=port) as receiver:
            deadline = time.monotonic() + 60
            while True:
                lines = receiver.snapshot()
                hits = [line for line in lines if "MatchedIndicator=192.0.2.1" in line]
                started = [line for line in lines if "ServiceStarted" in line]
                if (len(hits) >= 500 and started) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
    finally:
        stop(service)
    assert len(hits) >= 500  # at least once: a repeat would be byte-identical
    assert started  # the supervisor's own alert, spooled while the receiver was down


def test_a_port_another_process_holds_is_refused(tmp_path: Path) -> None:
    """Workers share their ports with SO_REUSEPORT; a second instance must not join them."""
    port = free_port()
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("127.0.0.1", port))
        holder.listen()
        result = subprocess.run(
            [sys.executable, "-m", "trapline", "serve", "--data-dir", str(tmp_path / "data"),
             "--listen", f"127.0.0.1:{port}", "--http", f"127.0.0.1:{free_port()}"],
            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert f"service.listen: cannot listen on 127.0.0.1:{port}" in result.stderr


def test_first_start_admin_internal_ti_and_recorded_detections(service: Service,
                                                                 tmp_path: Path) -> None:
    """The store behind serve: InternalTI written by another process is detected by the
    running workers within about a second; output detections are kept in the store."""
    from trapline.store import Actor, open_store
    from trapline.store.records import DetectionQuery, IndicatorInput

    store = open_store(tmp_path / "data")
    try:
        assert [u.name for u in store.users.all()] == ["admin"]
        # The feed updates of the first start are kept in the store too.
        kept = {f.name: f for f in store.feeds.all()}
        assert kept["Demo_IP_Reputation.json"].records == 3
        assert kept["Demo_IP_Reputation.json"].last_success is not None
        assert store.users.get("admin").must_change_password
        with service.connect() as sock:
            sock.sendall(b"X-KF-SendFinishedEventX-KF-ReplyBack")
            sock.sendall(b"ip=203.0.113.77\n")
            assert b"MatchedIndicator" not in read_until(sock, b"LookupFinished")
            store.indicators.put(Actor(name="analyst"), "InternalTI", [IndicatorInput(
                value="203.0.113.77", category="Blocked_by_SOC")])
            written = time.monotonic()
            while True:
                sock.sendall(b"ip=203.0.113.77\n")
                reply = read_until(sock, b"LookupFinished")
                if b"Category=Blocked_by_SOC|MatchedIndicator=203.0.113.77" in reply:
                    break
                assert time.monotonic() - written < 3, "InternalTI never reached the worker"
                time.sleep(0.05)
        # Without reply-back, detections go to the output and into the store.
        with service.connect() as sock:
            sock.sendall(b"ip=192.0.2.1\n")
        wait_for(service.receiver, "MatchedIndicator=192.0.2.1")
        deadline = time.monotonic() + 10
        while not store.detections.count(DetectionQuery(indicator="192.0.2.1")):
            assert time.monotonic() < deadline, "the detection never reached the store"
            time.sleep(0.1)
        kept = store.detections.search(DetectionQuery(indicator="192.0.2.1")).items[0]
        assert kept.source == "127.0.0.1" and kept.event == "ip=192.0.2.1"
    finally:
        store.close()
    stop(service)
    output = service.process.stdout.read() if service.process.stdout else ""
    assert output.count("first start: user 'admin' created with password") == 1


def test_settings_kept_by_the_web_interface_apply_on_reload(tmp_path: Path,
                                                              receiver: Receiver) -> None:
    """A detection format kept in the store applies when an Administrator presses
    "Apply now" (the worker asks the supervisor for a SIGHUP); flags and file stay."""
    import httpx

    from trapline.security.passwords import hash_password
    from trapline.store import SYSTEM, open_store

    store = open_store(tmp_path / "data")
    store.users.create(SYSTEM, "chief", hash_password("chief-secret"), role="Administrator")
    store.close()
    http = free_port()
    service = launch(tmp_path, '[http]\ntls = false\nlisten = "127.0.0.1:8080"\n',
                     receiver.port, "--http", f"127.0.0.1:{http}")
    try:
        def reply() -> str:
            with service.connect() as sock:
                sock.sendall(b"X-KF-SendFinishedEventX-KF-ReplyBackip=192.0.2.1\n")
                return read_until(sock, b"LookupFinished").decode()

        assert "Category=Demo_IP_Reputation|MatchedIndicator=192.0.2.1" in reply()
        store = open_store(tmp_path / "data")
        store.settings.set(SYSTEM, "output.templates",
                           {"detection": "hit=%MatchedIndicator% feed=%Feed%"})
        store.close()
        assert "Category=Demo_IP_Reputation" in reply()  # kept, not applied yet
        with httpx.Client(base_url=f"http://127.0.0.1:{http}", auth=("chief", "chief-secret"),
                          timeout=30) as client:
            deadline = time.monotonic() + 30
            while True:  # the HTTP port answers a moment after the event port
                try:
                    applied = client.post("/settings/apply")
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline
                    time.sleep(0.2)
        assert applied.status_code == 303, applied.text
        deadline = time.monotonic() + 15
        while "hit=192.0.2.1 feed=Demo_IP_Reputation.json" not in (text := reply()):
            assert time.monotonic() < deadline, text
            time.sleep(0.2)
    finally:
        stop(service)


def test_every_worker_publishes_its_rates_and_the_service_sums_them(
        tmp_path: Path, receiver: Receiver) -> None:
    """Two workers: each writes its rates under DATA_DIR/run; the dashboard's sum covers
    both; a stopped service leaves no file behind."""
    from trapline.service.rates import service_rates

    running = launch(tmp_path, "[service]\nupdate_interval = 3600\n", receiver.port,
                     "--workers", "2")
    data = tmp_path / "data"
    try:
        sockets = [socket.create_connection(("127.0.0.1", running.port)) for _ in range(8)]
        deadline = time.monotonic() + 30
        rates = None
        while time.monotonic() < deadline:
            for sock in sockets:  # the kernel spreads the connections over both workers
                sock.sendall(b"ip=198.18.0.1\nip=198.18.0.2\n")
            rates = service_rates(data)
            if rates is not None and rates.workers == 2 and rates.events_per_s > 0:
                break
            time.sleep(0.2)
        for sock in sockets:
            sock.close()
    finally:
        stop(running)
    assert rates is not None and rates.workers == 2, rates
    assert rates.events_per_s > 0 and rates.lookups_per_s >= rates.events_per_s
    assert list((data / "run").glob("worker-*.json")) == []
