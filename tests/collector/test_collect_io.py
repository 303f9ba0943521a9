"""Inputs and outputs of a real `trapline collect` over real sockets and files.

UDP drops are counted when the queue is full; a followed file survives
rotation (rename + new file) and truncation; the file output rotates; TCP and
UDP syslog outputs reach a test receiver and rsyslogd; the HTTP output POSTs
(and retries) to a local receiver; a full queue stops the TCP input from
reading (the client's send buffer fills) and nothing is lost.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from processes import JSON_TCP, Collect, free_port, read_events, send_tcp, wait_for_events
from syslog_receivers import Receiver, rsyslog_or_skip, wait_until


def _port(collect: Collect, name: str | None = None) -> int:
    address = collect.addresses[name] if name else next(iter(collect.addresses.values()))
    return int(address.rsplit(":", 1)[1])


def _ids(events: list[dict[str, Any]]) -> Counter[int]:
    return Counter(event["id"] for event in events)


def _lines(start: int, count: int, pad: str = "") -> list[bytes]:
    return [json.dumps({"id": n, "pad": pad}).encode() + b"\n"
            for n in range(start, start + count)]


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


def test_udp_drops_are_counted_when_the_queue_is_full(tmp_path: Path, black_hole: int) -> None:
    out = tmp_path / "out.jsonl"
    collect = Collect(tmp_path, f"""
[collector]
stats_interval = 0
queue = 5
[[input]]
name = "udp"
type = "udp"
listen = "127.0.0.1:0"
format = "json"
[[rule]]
name = "slow"
kind = "cybertrace"
url = "127.0.0.1:{black_hole}"
connections = 1
timeout = 0.3
queue_limit = 1
cache_ttl = 0
mapping = [{{ field = "ip", type = "ip" }}]
[[output]]
type = "file"
path = "{out}"
""").start()
    total = 300
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for n in range(total):
                sock.sendto(json.dumps({"id": n, "ip": f"198.51.100.{n % 250}"}).encode(),
                            ("127.0.0.1", _port(collect)))
                if n % 20 == 19:
                    time.sleep(0.002)  # the collector's socket buffer never overflows
        time.sleep(0.5)
    finally:
        counters = collect.stop()
    events = read_events(out)
    received, dropped = counters["input_udp_received"], counters.get("input_udp_dropped", 0)
    assert received == total  # every datagram was read: the socket buffer never overflowed
    assert dropped > 0
    assert len(events) == received - dropped  # every queued datagram came out, once
    assert max(_ids(events).values()) == 1
    assert all(event["TIStatus"]["slow"].startswith("unenriched: timeout") for event in events)


def test_udp_datagrams_the_kernel_drops_are_counted_too(tmp_path: Path) -> None:
    """A burst faster than the collector reads, into a small receive buffer: what the
    kernel drops is counted (kernel_dropped), so every datagram sent is accounted for."""
    out = tmp_path / "out.jsonl"
    collect = Collect(tmp_path, f"""
[collector]
stats_interval = 0
[[input]]
name = "udp"
type = "udp"
listen = "127.0.0.1:0"
format = "json"
receive_buffer = 4096
[[output]]
type = "file"
path = "{out}"
""").start()
    total = 3000
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for n in range(total):
                sock.sendto(json.dumps({"id": n, "pad": "x" * 200}).encode(),
                            ("127.0.0.1", _port(collect)))
        time.sleep(0.5)
    finally:
        counters = collect.stop()
    received, kernel = counters["input_udp_received"], counters["input_udp_kernel_dropped"]
    assert kernel > 0  # a 4 KB buffer cannot hold the burst
    assert received + kernel == total
    assert len(read_events(out)) == received


def test_file_input_follows_rotation_and_truncation(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    out = tmp_path / "out.jsonl"
    log.write_bytes(b"".join(_lines(0, 50, pad="x" * 40)))
    collect = Collect(tmp_path, f"""
[collector]
stats_interval = 0
[[input]]
name = "f"
type = "file"
path = "{log}"
format = "json"
poll_interval = 0.05
[[output]]
type = "file"
path = "{out}"
""").start()
    try:
        wait_for_events(out, 50, timeout=20)
        # rotation by rename: a line written late to the old file, then a new file
        log.rename(tmp_path / "app.log.1")
        with open(tmp_path / "app.log.1", "ab") as old:
            old.write(b"".join(_lines(50, 5)))
        log.write_bytes(b"".join(_lines(55, 20, pad="y" * 40)))
        wait_for_events(out, 75, timeout=20)
        # truncation in place, then fewer bytes than were there
        with open(log, "r+b") as handle:
            handle.truncate(0)
        with open(log, "ab") as handle:
            handle.write(b"".join(_lines(75, 3)))
        wait_for_events(out, 78, timeout=20)
        time.sleep(0.3)  # nothing read twice
    finally:
        counters = collect.stop()
    events = read_events(out)
    assert _ids(events) == Counter(range(78))
    assert counters["input_f_rotations"] == 1
    assert counters["input_f_truncations"] == 1


def test_file_output_rotates_and_keeps_the_backups(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    collect = Collect(tmp_path, f"""
{JSON_TCP}[[output]]
name = "file"
type = "file"
path = "{out}"
max_bytes = 1000
backups = 2
batch = 7
""").start()
    try:
        for start in range(0, 100, 10):  # small batches: many rotations
            send_tcp(_port(collect), _lines(start, 10, pad="z" * 20))
            time.sleep(0.02)
        wait_until(lambda: any(e["id"] == 99 for e in read_events(out)), 20, "the last event")
    finally:
        counters = collect.stop()
    files = [Path(f"{out}.2"), Path(f"{out}.1"), out]  # oldest first
    assert all(path.exists() for path in files)
    assert not Path(f"{out}.3").exists()
    assert all(path.stat().st_size <= 1000 for path in files)
    ids = [event["id"] for path in files for event in read_events(path)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)  # rotated in order, none twice
    assert ids[-1] == 99
    assert counters["output_file_rotations"] >= 3
    assert counters["output_file_sent"] == 100


def _syslog_collect(folder: Path, outputs: str) -> Collect:
    return Collect(folder, f"""
{JSON_TCP}{outputs}
""").start()


_HEADER = re.compile(r"^<14>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \S+ trapline - - - (\{.*\})$")


def test_tcp_and_udp_syslog_outputs_reach_a_receiver(tmp_path: Path) -> None:
    with Receiver("tcp") as tcp, Receiver("udp") as udp:
        collect = _syslog_collect(tmp_path, f"""
[[output]]
type = "tcp"
address = "127.0.0.1:{tcp.port}"
[[output]]
type = "udp"
address = "127.0.0.1:{udp.port}"
[[output]]
type = "tcp"
name = "bare"
address = "127.0.0.1:{tcp.port}"
syslog_header = false
""")
        try:
            send_tcp(_port(collect), _lines(0, 40))
            tcp_messages = tcp.wait_count(80, timeout=20)
            udp_messages = udp.wait_count(40, timeout=20)
        finally:
            collect.stop()
    headed = [m for m in tcp_messages if m.startswith("<14>1 ")]
    bare = [m for m in tcp_messages if m.startswith("{")]
    for messages in (headed, udp_messages):
        ids = [json.loads(_HEADER.match(m).group(1))["id"] for m in messages]  # type: ignore[union-attr]
        assert sorted(ids) == list(range(40))
    assert sorted(json.loads(m)["id"] for m in bare) == list(range(40))


def test_syslog_outputs_reach_rsyslog_tcp_octet_counted_and_udp(tmp_path: Path) -> None:
    rsyslog = rsyslog_or_skip(tmp_path).start()
    try:
        collect = _syslog_collect(tmp_path, f"""
[[output]]
type = "tcp"
address = "127.0.0.1:{rsyslog.tcp_port}"
framing = "octet"
[[output]]
type = "udp"
address = "127.0.0.1:{rsyslog.udp_port}"
""")
        try:
            send_tcp(_port(collect), _lines(0, 30, pad="multi word | text"))
            lines = rsyslog.wait_count(60, timeout=30)
        finally:
            collect.stop()
    finally:
        rsyslog.stop()
    ids = Counter(json.loads(_HEADER.match(line).group(1))["id"]  # type: ignore[union-attr]
                  for line in lines)
    assert ids == Counter({n: 2 for n in range(30)})  # each once over TCP, once over UDP


class _Posts(BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []
    fail_first = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        if _Posts.fail_first > 0:
            _Posts.fail_first -= 1
            self.send_response(503)
        else:
            _Posts.bodies.append(body)
            self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def test_http_output_posts_json_arrays_and_retries(tmp_path: Path) -> None:
    _Posts.bodies, _Posts.fail_first = [], 1
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Posts)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        collect = _syslog_collect(tmp_path, f"""
[[output]]
name = "http"
type = "http"
url = "http://127.0.0.1:{server.server_address[1]}/ingest"
batch = 25
retry_interval = 0.1
""")
        try:
            send_tcp(_port(collect), _lines(0, 100))
            wait_until(lambda: sum(len(json.loads(b)) for b in _Posts.bodies) >= 100, 20,
                       "100 events posted")
        finally:
            counters = collect.stop()
    finally:
        server.shutdown()
        server.server_close()
    batches = [json.loads(body) for body in _Posts.bodies]
    assert all(isinstance(batch, list) and 1 <= len(batch) <= 25 for batch in batches)
    assert sorted(event["id"] for batch in batches for event in batch) == list(range(100))
    assert counters["output_http_retried"] == 1
    assert counters["output_http_sent"] == 100
    assert "output_http_dropped" not in counters


def test_an_http_receiver_that_never_answers_holds_a_post_only_for_the_timeout(
        tmp_path: Path, black_hole: int) -> None:
    collect = _syslog_collect(tmp_path, f"""
[[output]]
name = "http"
type = "http"
url = "http://127.0.0.1:{black_hole}/ingest"
timeout = 0.5
retries = 1
retry_interval = 0.1
""")
    try:
        started = time.monotonic()
        send_tcp(_port(collect), _lines(0, 5))
        wait_until(lambda: "dropped 5 events after 2 attempts" in collect.log(), 10,
                   "the batch to be given up")
        took = time.monotonic() - started
    finally:
        counters = collect.stop()
    assert 1.0 <= took < 4.0, took  # two attempts of 0.5 s, not two of 30 s
    assert counters["output_http_errors"] == 2 and counters["output_http_dropped"] == 5


def test_a_full_queue_stops_the_tcp_input_and_nothing_is_lost(tmp_path: Path) -> None:
    port = free_port()
    receiver = Receiver(port=port)  # not listening yet: the output cannot deliver
    collect = Collect(tmp_path, f"""
[collector]
stats_interval = 0
queue = 100
[[input]]
name = "tcp"
type = "tcp"
listen = "127.0.0.1:0"
format = "json"
[[output]]
name = "out"
type = "tcp"
address = "127.0.0.1:{port}"
syslog_header = false
queue = 100
retries = 1000
retry_interval = 0.1
""").start()
    sent = 0
    try:
        client = socket.create_connection(("127.0.0.1", _port(collect)))
        client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        client.setblocking(False)
        blocked = False
        deadline = time.monotonic() + 20
        pending = b""
        while time.monotonic() < deadline and sent < 1_000_000:
            if not pending:  # a chunk of whole lines
                pending = b"".join(_lines(sent, 1000, pad="p" * 60))
                sent += 1000
            try:
                pending = pending[client.send(pending):]
            except BlockingIOError:
                time.sleep(0.3)  # give the collector every chance to read more
                try:
                    pending = pending[client.send(pending):]
                except BlockingIOError:
                    blocked = True
                    break
        assert blocked, f"the collector kept reading ({sent} lines)"
        assert collect.process is not None and collect.process.poll() is None
        receiver.start()
        try:
            client.setblocking(True)
            client.sendall(pending)  # the rest of the last chunk, once reading resumes
            deadline = time.monotonic() + 60
            while receiver.count() < sent and time.monotonic() < deadline:
                time.sleep(0.1)
            client.close()
            messages = receiver.snapshot()
        finally:
            receiver.stop()
    finally:
        counters = collect.stop()
    ids = Counter(json.loads(message)["id"] for message in messages)
    assert ids == Counter(range(sent))  # every line, once
    assert counters["input_tcp_received"] == sent
    assert "input_tcp_dropped" not in counters
    assert counters.get("output_out_dropped", 0) == 0
