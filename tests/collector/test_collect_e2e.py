"""`trapline collect` against a real `trapline serve`, fed by real syslog clients.

The service has the demo feeds and a feed made of real feed values that the
real event logs of ../shared/data hold (the known true hits of its README):
the Sofacy capture's C2 domains (neo23x0 c2-iocs), 74.120.55.163 (ThreatFox),
and the ipsum scanner addresses that appear in the Apache log. `logger` sends
the EVE, Sysmon and Apache events over TCP syslog (LF and octet counting) to
three inputs of one collector; its file output must hold every event exactly
once, and the known hits in `TI`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from processes import Collect, Serve, read_events, wait_for_events

from trapline.collector.schema import FIELDS

LOGGER = shutil.which("logger")
SOFACY = "suricata-eve-generated/0031_tests_bug-2158_public-ex1_section8_Sofacy.eve.json"
FILE76 = "suricata-eve-generated/0083_tests_bug-4953_file76.eve.json"
SYSMON = "sysmon-otrf/psh_powershell_httplistener_2020-11-0204130683.json"
APACHE = "apache-access-elastic/apache_logs"
APACHE_LINES = 1500
SYSMON_LINES = 150
ADDED = {"syslog", "TI", "TIStatus", *FIELDS}


def _scanner_hits(shared: Path) -> list[str]:
    """ipsum addresses that are clients in the first Apache lines (real feed, real log)."""
    ipsum = {line.split("\t")[0] for line in
             (shared / "feeds/ipsum/ipsum.txt").read_text().splitlines()
             if line and not line.startswith("#")}
    clients = [line.split(" ", 1)[0] for line in
               (shared / "events" / APACHE).read_text().splitlines()[:APACHE_LINES]]
    return sorted({ip for ip in clients if ip in ipsum})


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("collect-e2e")
    scanners = _scanner_hits(shared_data)
    assert scanners, "the Apache sample holds ipsum addresses"
    feed = folder / "real_hits.txt"
    c2 = (shared_data / "feeds/neo23x0-signature-base/c2-iocs.txt").read_text()
    threatfox = (shared_data / "feeds/threatfox-ips/ips.txt").read_text().split()
    known = ["drivres-update.info", "softupdates.info", "74.120.55.163"]
    assert "drivres-update.info" in c2 and "softupdates.info" in c2
    assert "74.120.55.163" in threatfox
    feed.write_text("\n".join(known + scanners) + "\n")
    serve = Serve(folder, f'[[feeds]]\nname = "Real_Hits"\nsource = "{feed}"\n'
                          'format = "plain"\ncategory = "Real_Hits"\nschedule = 0\n')
    serve.add_user("kuma", "kuma-secret-password-1")
    serve.start()
    try:
        yield {"folder": folder, "serve": serve, "scanners": scanners, "shared": shared_data}
    finally:
        serve.stop()


def _rule(serve: Serve, **extra: Any) -> str:
    lines = ['[[rule]]', 'name = "CyberTrace"', 'kind = "cybertrace"',
             f'url = "127.0.0.1:{serve.port}"', "connections = 2", "rps = 5000", "timeout = 10",
             "mapping = [",
             '  { field = "SourceAddress", type = "ip" },',
             '  { field = "DestinationAddress", type = "ip" },',
             '  { field = "DestinationHostName", type = "domain" },',
             '  { field = "RequestUrl", type = "url" },',
             '  { field = "FileHash", type = "hash" },', "]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def _strip(event: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in event.items() if k not in ADDED}, sort_keys=True)


def _logger(port: int, path: Path, *options: str) -> None:
    assert LOGGER is not None
    subprocess.run([LOGGER, "--tcp", "-n", "127.0.0.1", "-P", str(port), "--size", "200000",
                    "-t", "e2e", *options, "-f", str(path)], check=True, timeout=60)


@pytest.mark.skipif(LOGGER is None, reason="logger (util-linux) is not installed")
def test_real_events_through_logger_come_out_once_with_the_known_hits(
        world: dict[str, Any]) -> None:
    folder, serve, shared = world["folder"], world["serve"], world["shared"] / "events"
    out = folder / "enriched.jsonl"
    collect = Collect(folder, f"""
[collector]
stats_interval = 0
[[input]]
name = "eve"
type = "tcp"
listen = "127.0.0.1:0"
preset = "eve"
[[input]]
name = "sysmon"
type = "tcp"
listen = "127.0.0.1:0"
preset = "sysmon"
[[input]]
name = "apache"
type = "tcp"
listen = "127.0.0.1:0"
preset = "apache"
framing = "octet"
{_rule(serve)}
[[output]]
type = "file"
path = "{out}"
""").start()
    try:
        eve_lines = [line for name in (SOFACY, FILE76)
                     for line in (shared / name).read_text().splitlines() if line.strip()]
        eve_file = folder / "eve.json"
        eve_file.write_text("\n".join(eve_lines) + "\n")
        sysmon_lines = (shared / SYSMON).read_text().splitlines()[:SYSMON_LINES]
        sysmon_file = folder / "sysmon.json"
        sysmon_file.write_text("\n".join(sysmon_lines) + "\n")
        apache_lines = (shared / APACHE).read_text().splitlines()[:APACHE_LINES]
        apache_file = folder / "apache.log"
        apache_file.write_text("\n".join(apache_lines) + "\n")
        port = {name: int(address.rsplit(":", 1)[1])
                for name, address in collect.addresses.items()}
        _logger(port["eve"], eve_file)
        _logger(port["sysmon"], sysmon_file, "--rfc3164")
        _logger(port["apache"], apache_file, "--octet-count")
        total = len(eve_lines) + len(sysmon_lines) + len(apache_lines)
        events = wait_for_events(out, total)
    finally:
        counters = collect.stop()
    events = read_events(out)
    assert len(events) == total, counters
    sent = Counter([_strip(json.loads(line)) for line in eve_lines + sysmon_lines] +
                   [_strip({"message": line}) for line in apache_lines])
    assert Counter(_strip(event) for event in events) == sent  # every event exactly once
    assert all("unenriched" not in json.dumps(e.get("TIStatus", {})) for e in events)

    hits: dict[str, set[str]] = {}
    for event in events:
        for entry in event.get("TI", ()):
            if entry["category"] == "Real_Hits":
                hits.setdefault(entry["indicator"], set()).add(entry["field"])
    assert hits.get("drivres-update.info") == {"DestinationHostName"}
    assert hits.get("softupdates.info") == {"DestinationHostName"}
    assert "74.120.55.163" in hits
    assert set(world["scanners"]) <= set(hits)
    sofacy = [e for e in events if e.get("dns", {}).get("rrname") == "drivres-update.info"]
    entry = next(t for t in sofacy[0]["TI"] if t["indicator"] == "drivres-update.info")
    assert entry == {"rule": "CyberTrace", "field": "DestinationHostName", "type": "domain",
                     "value": "drivres-update.info", "indicator": "drivres-update.info",
                     "category": "Real_Hits", "feed": None, "context": entry["context"]}
    assert counters["events_out"] == total


def test_http_rule_and_internal_ti_from_an_event(world: dict[str, Any]) -> None:
    folder, serve = world["folder"], world["serve"]
    secret = folder / "kuma.secret"
    secret.write_text('user = "kuma"\npassword = "kuma-secret-password-1"\n')
    os.chmod(secret, 0o600)
    out = folder / "http.jsonl"
    collect = Collect(folder, f"""
[collector]
stats_interval = 0
[[input]]
type = "http"
listen = "127.0.0.1:0"
[[rule]]
name = "CyberTrace HTTP"
kind = "cybertrace-http"
url = "127.0.0.1:{serve.http_port}"
tls = false
secret_file = "{secret}"
connections = 2
timeout = 10
mapping = [{{ field = "ip", type = "ip" }}, {{ field = "url", type = "url" }}]
[[output]]
type = "file"
path = "{out}"
""", name="collect-http").start()
    try:
        address = collect.addresses["input[0]:http"]
        events = [{"id": 1, "ip": "192.0.2.1"}, {"id": 2, "ip": "203.0.113.99"},
                  {"id": 3, "url": "http://malicious.trapline-demo.test/a"}]
        answer = httpx.post(f"http://{address}/events", json=events, timeout=30)
        assert answer.status_code == 200 and answer.json() == {"accepted": 3}
        got = {e["id"]: e for e in wait_for_events(out, 3)}
        assert got[1]["TI"][0]["category"] == "Demo_IP_Reputation"
        assert got[1]["TI"][0]["feed"] == "Demo_IP_Reputation.json"
        assert "TI" not in got[2] and got[2]["TIStatus"] == {"CyberTrace HTTP": "enriched"}
        assert got[3]["TI"][0]["field"] == "url"

        # From an enriched event, the analyst's "Add to Internal TI"; then it is a hit.
        event_file = folder / "event.json"
        event_file.write_text(json.dumps(got[2]))
        added = subprocess.run(
            [sys.executable, "-m", "trapline", "internal-ti", "add", "--config",
             str(collect.config), "--from-event", str(event_file), "--field", "ip"],
            capture_output=True, text=True, timeout=60)
        assert added.returncode == 0, added.stderr
        assert "1 added" in added.stdout
        assert "kuma-secret-password-1" not in added.stdout + added.stderr + collect.log()
        deadline = time.monotonic() + 10  # every worker sees a list change within 1 s
        for number in range(4, 1000):
            answer = httpx.post(f"http://{address}/events",
                                json=[{"id": number, "ip": "203.0.113.99"}], timeout=30)
            assert answer.status_code == 200
            latest = {e["id"]: e for e in wait_for_events(out, number)}[number]
            if latest.get("TI") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert latest["TI"][0]["category"] == "InternalTI"
        assert latest["TI"][0]["indicator"] == "203.0.113.99"
    finally:
        collect.stop()


def test_a_group_readable_secret_is_refused(world: dict[str, Any]) -> None:
    folder = world["folder"]
    secret = folder / "open.secret"
    secret.write_text('user = "kuma"\npassword = "x"\n')
    os.chmod(secret, 0o640)
    config = folder / "open.toml"
    config.write_text(f"""
[[input]]
type = "udp"
listen = "127.0.0.1:0"
[[rule]]
name = "r"
kind = "cybertrace-http"
url = "127.0.0.1:1"
secret_file = "{secret}"
mapping = [{{ field = "ip", type = "ip" }}]
[[output]]
type = "stdout"
""")
    result = subprocess.run([sys.executable, "-m", "trapline", "collect", "--config",
                             str(config), "--check"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert "rule[0].secret_file" in result.stderr and "chmod 600" in result.stderr
