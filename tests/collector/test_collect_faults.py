"""The collector's limits, measured at a fault proxy between it and a real `trapline serve`.

The RPS limit holds in every one-second window (counted at the proxy), the
connections never exceed the setting, a timeout fires within 10 % of the
setting, a dead or resetting service leaves events unenriched and marked,
the collector reconnects when the service is back, and every event comes
out exactly once.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_proxy import FaultProxy
from processes import JSON_TCP, Collect, Serve, read_events, send_tcp, wait_for_events


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    running = Serve(tmp_path_factory.mktemp("faults")).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def proxy(serve: Serve) -> Iterator[FaultProxy]:
    with FaultProxy(serve.port) as running:
        yield running


def _collect(folder: Path, proxy: FaultProxy, out: Path, **rule: Any) -> Collect:
    settings = {"connections": 2, "rps": 1000, "timeout": 5, "cache_ttl": 0} | rule
    extra = "\n".join(f"{key} = {json.dumps(value)}" for key, value in settings.items())
    return Collect(folder, f"""
{JSON_TCP}[[rule]]
name = "ct"
kind = "cybertrace"
url = "127.0.0.1:{proxy.port}"
mapping = [{{ field = "ip", type = "ip" }}, {{ field = "url", type = "url" }}]
{extra}
[[output]]
type = "file"
path = "{out}"
""").start()


def _events(start: int, count: int) -> list[bytes]:
    lines = []
    for n in range(start, start + count):
        ip = "192.0.2.1" if n % 2 else f"203.0.113.{n % 250}"
        lines.append(json.dumps({"id": n, "ip": ip}).encode() + b"\n")
    return lines


def _port(collect: Collect) -> int:
    return int(next(iter(collect.addresses.values())).rsplit(":", 1)[1])


def _exactly_once(events: list[dict[str, Any]], ids: range) -> None:
    counts = Counter(event["id"] for event in events)
    assert set(counts) == set(ids)
    assert max(counts.values()) == 1


def test_rps_and_connections_hold_and_every_event_comes_out_once(
        tmp_path: Path, proxy: FaultProxy) -> None:
    out = tmp_path / "out.jsonl"
    collect = _collect(tmp_path, proxy, out, rps=40, connections=2)
    try:
        send_tcp(_port(collect), _events(0, 160))   # four seconds of requests at 40/s
        started = time.monotonic()
        events = wait_for_events(out, 160, timeout=30)
        elapsed = time.monotonic() - started
    finally:
        collect.stop()
    _exactly_once(events, range(160))
    assert all(event["TIStatus"] == {"ct": "enriched"} for event in events)
    assert all(event["TI"][0]["indicator"] == "192.0.2.1" for event in events if event["id"] % 2)
    assert len(proxy.requests) == 160
    assert proxy.max_in_window(1.0) <= 40
    assert proxy.max_open <= 2
    assert elapsed > 160 / 40 - 1.5  # the limit did slow it down


def test_timeouts_fire_within_ten_percent_and_events_go_on_marked(
        tmp_path: Path, proxy: FaultProxy) -> None:
    proxy.set_mode("blackhole")
    out = tmp_path / "out.jsonl"
    collect = _collect(tmp_path, proxy, out, timeout=2.0, connections=3)
    try:
        sent_at = time.monotonic()
        send_tcp(_port(collect), _events(0, 30))
        arrivals: dict[int, float] = {}
        deadline = time.monotonic() + 20
        while len(arrivals) < 30 and time.monotonic() < deadline:
            for event in read_events(out):
                arrivals.setdefault(event["id"], time.monotonic())
            time.sleep(0.01)
        events = read_events(out)
    finally:
        counters = collect.stop()
    _exactly_once(events, range(30))
    for event in events:
        assert event["TIStatus"]["ct"].startswith("unenriched: timeout"), event
        assert "TI" not in event
        waited = arrivals[event["id"]] - sent_at
        assert 1.8 <= waited <= 2.2, (event["id"], waited)
    assert counters["rule_ct_timeout"] == 30
    assert proxy.max_open <= 3


def test_dead_service_resets_and_reconnection(tmp_path: Path, proxy: FaultProxy) -> None:
    out = tmp_path / "out.jsonl"
    collect = _collect(tmp_path, proxy, out, timeout=3.0, connections=2)
    port = _port(collect)
    try:
        send_tcp(port, _events(0, 20))                       # healthy: a connection opens
        wait_for_events(out, 20)
        proxy.set_mode("dead")                               # the service goes away
        time.sleep(0.3)
        send_tcp(port, _events(20, 20))
        wait_for_events(out, 40)
        proxy.set_mode("reset")                              # it answers with resets
        time.sleep(1.2)                                      # past the connect back-off
        send_tcp(port, _events(40, 20))
        wait_for_events(out, 60)
        proxy.set_mode("pass")                               # and comes back
        deadline = time.monotonic() + 20
        number = 60
        while True:                                          # reconnects after its back-off
            send_tcp(port, _events(number, 1))
            number += 1
            latest = wait_for_events(out, number)
            last = next(e for e in latest if e["id"] == number - 1)
            if last["TIStatus"]["ct"] == "enriched":
                break
            assert time.monotonic() < deadline, last
            time.sleep(0.3)
        send_tcp(port, _events(number, 20))
        events = wait_for_events(out, number + 20)
    finally:
        counters = collect.stop()
    _exactly_once(events, range(number + 20))
    by_id = {event["id"]: event for event in events}
    assert all(by_id[n]["TIStatus"]["ct"] == "enriched" for n in range(20))
    for n in range(20, 60):
        assert by_id[n]["TIStatus"]["ct"].startswith("unenriched: unavailable"), by_id[n]
    assert all(by_id[n]["TIStatus"]["ct"] == "enriched" for n in range(number, number + 20))
    assert counters["rule_ct_unavailable"] >= 40
    assert proxy.max_open <= 2


def test_slow_answers_within_the_timeout_are_waited_for(tmp_path: Path,
                                                        proxy: FaultProxy) -> None:
    proxy.set_mode("delay", delay=0.5)
    out = tmp_path / "out.jsonl"
    collect = _collect(tmp_path, proxy, out, timeout=3.0, connections=1)
    try:
        send_tcp(_port(collect), _events(0, 10))
        events = wait_for_events(out, 10)
    finally:
        collect.stop()
    _exactly_once(events, range(10))
    assert all(event["TIStatus"] == {"ct": "enriched"} for event in events)
