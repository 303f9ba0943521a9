"""rsyslog as a forwarding relay in front of `trapline collect` (issue 7).

A real rsyslogd runs unprivileged in the foreground (``-n -f CONF -i PIDFILE``,
its work directory in tmp_path, no imklog or imuxsock, no privileged port) and
follows with imfile the files this test writes real event lines into: the EVE
JSON of the Sofacy, file76 and MaliciousC2 captures, Sysmon JSON and Apache
combined log lines from ../shared/data/events. Each file is one *route*: its
imfile tag (the syslog APP-NAME) names the event source, the transport and the
template, and its one omfwd action forwards it to the collector's input for
that source and transport: TCP with RFC 6587 octet counting, TCP with LF
framing, UDP. One run per omfwd template: RSYSLOG_SyslogProtocol23Format
(RFC 5424), RSYSLOG_TraditionalForwardFormat (RFC 3164) and
RSYSLOG_ForwardFormat (RFC 3164 layout with an RFC 3339 timestamp).

The collector enriches against a real `trapline serve` holding the known true
hits of the real feeds (as test_collect_e2e.py picks them); its file output
must hold every forwarded event exactly once per route, the syslog header
parsed (host, app name, facility, severity, timestamp), and the known hits in
`TI` with their category and feed.

The UDP routes are sent after the TCP ones, paced (2 ms a message): unpaced, or
beside busy TCP routes, a burst of a few hundred Sysmon-sized datagrams
overflows the collector's socket receive buffer (the kernel's default size)
and is lost, uncounted by the collector.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from processes import Collect, Serve, read_events, wait_for_events
from subprocesses import terminate
from syslog_receivers import RSYSLOGD, wait_until
from test_collect_e2e import APACHE, FILE76, SOFACY, SYSMON, _rule, _scanner_hits, _strip

#: A negative control: this capture matches no feed (../shared/data/README.md).
MALICIOUS_C2 = "suricata-eve-generated/0094_tests_bug-5713-01_TLSv1-Extracted-MaliciousC2.eve.json"
APACHE_LINES = 300  # holds two requests of an ipsum scanner (lines 176 and 177)
RELAY_HOST = "rsyslog-relay"
FACILITY, SEVERITY = "local3", "info"  # 19, 6: set on every imfile input
SOURCES = ("eve", "sysmon", "apache")
#: transport -> omfwd protocol, omfwd TCP_Framing, collector input framing
TRANSPORTS = {"octet": ("tcp", "octet-counted", "octet"),
              "lf": ("tcp", "traditional", "lf"),
              "udp": ("udp", None, None)}
#: The known true hits of the real events (test_collect_e2e.py, ../shared/data/README.md).
KNOWN = ("drivres-update.info", "softupdates.info", "74.120.55.163")
#: The service names the feed in its detection lines, so TI carries it over TCP too.
DETECTION = "Category=%Category%|MatchedIndicator=%MatchedIndicator%|feed=%Feed%%RecordContext%"
#: omfwd template -> (the RFC its header follows, a short name for the app names)
TEMPLATES = {
    "RSYSLOG_SyslogProtocol23Format": (5424, "5424"),
    "RSYSLOG_TraditionalForwardFormat": (3164, "bsd"),
    "RSYSLOG_ForwardFormat": (3164, "fwd"),  # a BSD header with an RFC 3339 timestamp
}
_BSD_TIME = re.compile(r"[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d")


def _rsyslogd_or_skip() -> str:
    if not os.access(RSYSLOGD, os.X_OK):
        reason = f"{RSYSLOGD} is not installed (apt-get install rsyslog)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " (CI=true: the rsyslog relay test must run)")
        pytest.skip(reason)
    return RSYSLOGD


class RsyslogRelay:
    """rsyslogd in the foreground: imfile follows one file per route, omfwd forwards it.

    ``routes`` maps an app name (the imfile tag) to (protocol, port, TCP framing or
    None, template). Every action has its own queue and retries forever, so a slow
    collector delays messages but loses none; UDP actions are paced (2 ms between
    messages) so the collector's socket buffer does not overflow.
    """

    def __init__(self, rsyslogd: str, directory: Path,
                 routes: dict[str, tuple[str, int, str | None, str]]) -> None:
        self.rsyslogd = rsyslogd
        self.directory = directory
        self.conf = directory / "relay.conf"
        self.pidfile = directory / "relay.pid"
        self.errors = directory / "relay.err"
        self.files = {app: directory / f"{app}.log" for app in routes}
        work = directory / "relay-work"
        work.mkdir(exist_ok=True)
        parts = [f'global(workDirectory="{work}" maxMessageSize="64k" '
                 f'localHostname="{RELAY_HOST}")',
                 'module(load="imfile" mode="inotify")']
        for app, (protocol, port, framing, template) in routes.items():
            self.files[app].touch()
            parts.append(f'input(type="imfile" file="{self.files[app]}" tag="{app}:" '
                         f'facility="{FACILITY}" severity="{SEVERITY}" ruleset="{app}")')
            options = f' TCP_Framing="{framing}"' if framing else ""
            pacing = (' queue.dequeueBatchSize="1" queue.dequeueSlowdown="2000"'
                      if protocol == "udp" else "")
            parts.append(
                f'ruleset(name="{app}") {{ action(type="omfwd" target="127.0.0.1" '
                f'port="{port}" protocol="{protocol}"{options} template="{template}" '
                f'queue.type="LinkedList"{pacing} action.resumeRetryCount="-1" '
                f'action.resumeInterval="1") }}')
        self.conf.write_text("\n".join(parts) + "\n")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RsyslogRelay:
        check = subprocess.run([self.rsyslogd, "-N1", "-f", str(self.conf)],
                               capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
        with open(self.errors, "ab") as errors:
            self.process = subprocess.Popen(
                [self.rsyslogd, "-n", "-f", str(self.conf), "-i", str(self.pidfile)],
                stdout=errors, stderr=errors)

        def running() -> bool:
            assert self.process is not None
            assert self.process.poll() is None, "rsyslogd exited: " + self.log()
            return self.pidfile.exists() and self.pidfile.read_text().strip().isdigit()

        wait_until(running, 30, "rsyslogd to write its pidfile")
        return self

    def append(self, app: str, lines: list[str]) -> None:
        with open(self.files[app], "a", encoding="utf-8") as file:
            file.write("".join(line + "\n" for line in lines))

    def stop(self) -> None:
        terminate(self.process)
        self.process = None

    def log(self) -> str:
        return self.errors.read_text(errors="replace") if self.errors.exists() else ""


@pytest.fixture(scope="module")
def relay_world(tmp_path_factory: pytest.TempPathFactory,
                shared_data: Path) -> Iterator[dict[str, Any]]:
    rsyslogd = _rsyslogd_or_skip()
    folder = tmp_path_factory.mktemp("collect-rsyslog")
    events = shared_data / "events"
    apache = (events / APACHE).read_text().splitlines()[:APACHE_LINES]
    scanners = set(_scanner_hits(shared_data))
    clients = {line.split(" ", 1)[0] for line in apache}
    assert scanners & clients, "the Apache lines forwarded hold an ipsum scanner"
    feed = folder / "real_hits.txt"
    feed.write_text("\n".join([*KNOWN, *sorted(scanners)]) + "\n")
    serve = Serve(folder, f'[[feeds]]\nname = "Real_Hits"\nsource = "{feed}"\n'
                          'format = "plain"\ncategory = "Real_Hits"\nschedule = 0\n\n'
                          f'[output.templates]\ndetection = "{DETECTION}"\n')
    serve.start()
    try:
        yield {
            "rsyslogd": rsyslogd, "serve": serve, "scanners": scanners,
            "lines": {
                "eve": [line for name in (SOFACY, FILE76, MALICIOUS_C2)
                        for line in (events / name).read_text().splitlines() if line.strip()],
                "sysmon": (events / SYSMON).read_text().splitlines(),
                "apache": apache,
            },
        }
    finally:
        serve.stop()


def _udp_receive_errors() -> int:
    """The kernel's count of UDP datagrams dropped for a full receive buffer (-1: unknown)."""
    try:
        rows = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines()
                if line.startswith("Udp:")]
        return int(dict(zip(rows[0][1:], rows[1][1:], strict=True))["RcvbufErrors"])
    except (OSError, IndexError, KeyError, ValueError):
        return -1


def _expected(source: str, line: str) -> str:
    """The event as it must come out, less the fields parsing and enrichment add."""
    return _strip(json.loads(line) if source in ("eve", "sysmon") else {"message": line})


def _real_hits(event: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry for entry in event.get("TI", ()) if entry["category"] == "Real_Hits"]


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_real_events_forwarded_by_rsyslog_come_out_once_with_the_known_hits(
        relay_world: dict[str, Any], tmp_path: Path, template: str) -> None:
    serve, lines = relay_world["serve"], relay_world["lines"]
    rfc, tag = TEMPLATES[template]
    inputs = []
    for source in SOURCES:
        for transport, (protocol, _, framing) in TRANSPORTS.items():
            inputs.append(f'[[input]]\nname = "{source}_{transport}"\ntype = "{protocol}"\n'
                          f'listen = "127.0.0.1:0"\nformat = "syslog"\npreset = "{source}"\n'
                          + (f'framing = "{framing}"\n' if framing else ""))
    out = tmp_path / "enriched.jsonl"
    collect = Collect(tmp_path, "[collector]\nstats_interval = 0\n" + "".join(inputs)
                      + _rule(serve) + f'[[output]]\ntype = "file"\npath = "{out}"\n').start()
    relay: RsyslogRelay | None = None
    routes: dict[str, tuple[str, str]] = {}  # app name -> (source, transport)
    try:
        forward: dict[str, tuple[str, int, str | None, str]] = {}
        for source in SOURCES:
            for transport, (protocol, tcp_framing, _) in TRANSPORTS.items():
                app = f"{source}-{transport}-{tag}"
                port = int(collect.addresses[f"{source}_{transport}"].rsplit(":", 1)[1])
                forward[app] = (protocol, port, tcp_framing, template)
                routes[app] = (source, transport)
        relay = RsyslogRelay(relay_world["rsyslogd"], tmp_path, forward).start()
        # TCP first, then UDP: UDP has no backpressure, and a collector busy with the TCP
        # routes' events would leave datagrams to overflow its socket buffer.
        total = 0
        drops = _udp_receive_errors()
        for phase in ("tcp", "udp"):
            phase_routes = {app: source for app, (source, transport) in routes.items()
                            if (transport == "udp") == (phase == "udp")}
            for part in (0, 1):  # imfile follows the files as they grow
                for app, source in phase_routes.items():
                    half = len(lines[source]) // 2
                    relay.append(app, lines[source][half:] if part else lines[source][:half])
            total += sum(len(lines[source]) for source in phase_routes.values())
            try:
                wait_for_events(out, total, timeout=90)
            except AssertionError as exc:
                arrived = Counter(event.get("syslog", {}).get("app_name", "?")
                                  for event in read_events(out))
                raise AssertionError(
                    f"{exc} after the {phase} routes; per route {dict(arrived)}; kernel UDP "
                    f"receive-buffer drops during the test (all processes): "
                    f"{_udp_receive_errors() - drops}; rsyslogd: {relay.log()[-2000:]}"
                ) from None
    finally:  # rsyslogd first: whatever it still sends, a duplicate too, is in the output
        if relay is not None:
            relay.stop()
        counters = collect.stop()
    events = read_events(out)
    assert len(events) == total, (counters, relay.log()[-2000:] if relay else "")
    for source in SOURCES:
        for transport in TRANSPORTS:
            assert counters[f"input_{source}_{transport}_received"] == len(lines[source]), counters
    assert counters["events_out"] == total

    by_route: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        by_route[event["syslog"].get("app_name", "?")].append(event)
    assert sorted(by_route) == sorted(routes)
    for app, (source, _) in routes.items():
        got = by_route[app]
        # every forwarded event exactly once on each route, its content unchanged
        assert Counter(_strip(event) for event in got) == \
            Counter(_expected(source, line) for line in lines[source]), app
        for event in got:
            header = event["syslog"]
            assert header["hostname"] == RELAY_HOST and header["app_name"] == app
            assert (header["facility"], header["severity"]) == (19, 6)
            assert header["rfc"] == rfc
            if tag == "bsd":
                assert _BSD_TIME.fullmatch(header["timestamp"]), header
            else:  # RFC 3339, also in ForwardFormat's BSD-style header
                assert datetime.fromisoformat(header["timestamp"]).tzinfo, header
            if rfc == 5424:
                assert "procid" not in header and "msgid" not in header, header
            assert event.get("TIStatus", {}).get("CyberTrace", "enriched") == "enriched", event

    scanners: set[str] = relay_world["scanners"]
    for app, (source, _) in routes.items():
        hits: dict[str, set[str]] = defaultdict(set)
        for event in by_route[app]:
            for entry in _real_hits(event):
                assert entry["rule"] == "CyberTrace" and entry["feed"] == "Real_Hits", entry
                assert entry["value"] is None or entry["indicator"] in entry["value"], entry
                hits[entry["indicator"]].add(entry["field"])
        if source == "eve":
            assert hits["drivres-update.info"] == {"DestinationHostName"}, app
            assert hits["softupdates.info"] == {"DestinationHostName"}, app
            assert "74.120.55.163" in hits, app
            assert not any(_real_hits(event) for event in by_route[app]
                           if event.get("dest_ip") == "91.254.215.167"), app  # the control
            sofacy = next(event for event in by_route[app]
                          if event.get("dns", {}).get("rrname") == "drivres-update.info")
            entry = next(t for t in sofacy["TI"] if t["indicator"] == "drivres-update.info")
            assert entry == {"rule": "CyberTrace", "field": "DestinationHostName",
                             "type": "domain", "value": "drivres-update.info",
                             "indicator": "drivres-update.info", "category": "Real_Hits",
                             "feed": "Real_Hits", "context": entry["context"]}, app
        elif source == "apache":  # exactly the scanners' requests, on their address
            for event in by_route[app]:
                client = event["message"].split(" ", 1)[0]
                expected = [{"field": "SourceAddress", "indicator": client}] \
                    if client in scanners else []
                assert [{"field": e["field"], "indicator": e["indicator"]}
                        for e in _real_hits(event)] == expected, (app, event)
            assert set(hits) == scanners & {line.split(" ", 1)[0] for line in lines[source]}
        else:  # the Sysmon sample holds no known hit
            assert not hits, app
            assert any(event.get("DestinationAddress") for event in by_route[app]), app
