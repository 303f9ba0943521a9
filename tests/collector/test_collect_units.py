"""Unit tests: configuration errors, parsers on real lines, filters, presets, the limiter,
framing, the TI answer."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

import pytest

from trapline.collector.config import KEYS, CollectorConfigError, validate
from trapline.collector.enrich.answer import parse_detection, tcp_entries
from trapline.collector.enrich.cybertrace import request_line
from trapline.collector.enrich.limiter import WindowLimiter
from trapline.collector.filters import FilterError, parse_filter
from trapline.collector.inputs.framing import Framer
from trapline.collector.parsers import parse_cef, parse_json, parse_keyvalue, parse_syslog
from trapline.collector.schema import PRESETS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "collector.md"
GOOD = {"input": [{"type": "tcp", "listen": "127.0.0.1:5514"}],
        "rule": [{"name": "CyberTrace", "kind": "cybertrace", "url": "127.0.0.1:9999",
                  "mapping": [{"field": "SourceAddress", "type": "ip"}]}],
        "output": [{"type": "stdout"}]}


def test_defaults_follow_the_kuma_guide() -> None:
    rule = validate(GOOD).rules[0]
    assert (rule.tenant, rule.rps, rule.timeout, rule.queue_limit, rule.debug) == \
        ("General", 1000, 30.0, 1_000_000, False)
    assert rule.connections >= 1


def test_every_error_is_listed_field_by_field() -> None:
    bad = {"input": [{"type": "tcp", "listen": "nowhere"}, {"type": "file"}],
           "rule": [{"name": "x" * 129, "kind": "splunk", "url": "h", "rps": 0,
                     "timeout": "soon", "connections": 0, "description": "d" * 4001,
                     "filter": "SourceAddress in 10.0.0.0/33", "queue_limit": -1,
                     "mapping": [{"field": "", "type": "email"}], "colour": 1},
                    {"name": "no mapping", "kind": "cybertrace", "url": "h:1", "mapping": []},
                    {"name": "http", "kind": "cybertrace-http", "url": "h:1",
                     "mapping": [{"field": "a", "type": "ip"}]}],
           "output": [{"type": "kafka"}, {"type": "tcp"}], "extra": {}}
    with pytest.raises(CollectorConfigError) as caught:
        validate(bad, "c.toml")
    errors = caught.value.errors
    for where in ("input[0].listen", "input[1].path: required", "rule[0].name: must be 1 to 128",
                  "rule[0].kind", "rule[0].url", "rule[0].rps", "rule[0].timeout",
                  "rule[0].connections", "rule[0].description: must be at most 4000",
                  "rule[0].filter: not a network", "rule[0].queue_limit",
                  "rule[0].mapping[0].field", "rule[0].mapping[0].type", "rule[0].colour: unknown",
                  "rule[1].mapping: must hold at least one row",
                  "rule[2].secret_file: kind 'cybertrace-http' needs a secret",
                  "output[0].type", "output[1].address: required", "extra: unknown section"):
        assert any(error.startswith(where) for error in errors), (where, errors)
    assert str(caught.value).startswith(f"c.toml: {len(errors)} error(s):")


def test_names_are_unicode_and_unique() -> None:
    rule = dict(GOOD["rule"][0], name="Обогащение 🛡")
    assert validate(dict(GOOD, rule=[rule])).rules[0].name == "Обогащение 🛡"
    with pytest.raises(CollectorConfigError, match=r"rule\[1\].name: 'Обогащение 🛡' is already"):
        validate(dict(GOOD, rule=[rule, rule]))


def test_every_key_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for section, keys in KEYS.items():
        for key in keys:
            assert re.search(rf"`{re.escape(key)}`", text), f"{section}.{key} undocumented"


def test_rfc5424_with_structured_data_and_json_body() -> None:
    line = ('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 '
            '[exampleSDID@32473 iut="3" eventSource="Appl\\"ication"][x@1 a="]"] '
            '{"src_ip":"10.0.0.1"}')
    event = parse_syslog(line)
    assert event["syslog"]["facility"] == 20 and event["syslog"]["severity"] == 5
    assert event["syslog"]["structured_data"] == {
        "exampleSDID@32473": {"iut": "3", "eventSource": 'Appl"ication'}, "x@1": {"a": "]"}}
    assert event["syslog"]["msgid"] == "ID47" and "procid" not in event["syslog"]
    assert event["src_ip"] == "10.0.0.1"


def test_rfc3164_with_a_real_apache_line(shared_data: Path) -> None:
    apache = (shared_data / "events/apache-access-elastic/apache_logs").read_text()
    first = apache.splitlines()[0]
    event = parse_syslog(f"<13>Nov 29 15:00:00 web1 apache[42]: {first}")
    assert event["syslog"]["hostname"] == "web1" and event["syslog"]["procid"] == "42"
    assert event["message"] == first
    PRESETS["apache"](event)
    assert event["SourceAddress"] == "83.149.9.216"
    assert event["RequestMethod"] == "GET" and event["HttpStatus"] == 200
    assert event["RequestUrl"].startswith("/presentations/")


def test_rfc3164_header_with_an_rfc3339_timestamp_as_rsyslog_forwards() -> None:
    for stamp in ("2026-11-29T18:50:01.123456+01:00", "2026-11-29T18:50:01Z"):
        event = parse_syslog(f"<134>{stamp} web1 apache[42]: GET /index.html")
        assert event["syslog"] == {"facility": 16, "severity": 6, "rfc": 3164,
                                   "timestamp": stamp, "hostname": "web1",
                                   "app_name": "apache", "procid": "42"}
        assert event["message"] == "GET /index.html"
    sysmon = parse_syslog('<14>2026-11-29T18:50:01Z dc1 sysmon: {"EventID": 3}')
    assert sysmon["EventID"] == 3 and sysmon["syslog"]["hostname"] == "dc1"


def test_eve_preset_on_real_lines(shared_data: Path) -> None:
    folder = shared_data / "events/suricata-eve-generated"
    sofacy = [parse_json(line) for line in
              (folder / "0031_tests_bug-2158_public-ex1_section8_Sofacy.eve.json")
              .read_text().splitlines()]
    for event in sofacy:
        PRESETS["eve"](event)
    assert "drivres-update.info" in {e.get("DestinationHostName") for e in sofacy}
    file76 = parse_json((folder / "0083_tests_bug-4953_file76.eve.json")
                        .read_text().splitlines()[0])
    PRESETS["eve"](file76)
    assert file76["DestinationAddress"] == "74.120.55.163"
    assert file76["RequestUrl"] == "http://74.120.55.163/IEyF/EN3GUkgHakZ3iVe/YBqssWlF8iWaHTr/"
    assert file76["FileHash"] == file76["fileinfo"]["sha256"]
    assert file76["FileName"] == "LVejnvdxqMoIu" and file76["pcap_cnt"] == 13  # kept


def test_sysmon_preset_on_real_lines(shared_data: Path) -> None:
    path = (shared_data / "events/sysmon-otrf"
            / "cmd_bitsadmin_download_psh_script_2020-10-2302365189.json")
    events = [parse_json(line) for line in path.read_text().splitlines()]
    for event in events:
        PRESETS["sysmon"](event)
    hashed = [e for e in events if "Hashes" in e]
    assert hashed and all(len(e["FileHash"]) in (32, 40, 64) for e in hashed)
    assert any(e.get("FileName") == "bitsadmin.exe" for e in events)
    assert any("DestinationAddress" in e for e in events if e.get("EventID") == 3)


def test_cef_and_keyvalue() -> None:
    line = ("<134>Nov 29 10:00:00 fw CEF:0|Vendor|Pro\\|duct|1.0|100|Blocked URL|7|"
            "src=10.0.0.5 dst=192.0.2.1 request=http://fakess123.nu/a?b=c\\=d "
            "cs1Label=Policy cs1=Block all msg=two words")
    event = parse_cef(line)
    assert event["DeviceProduct"] == "Pro|duct" and event["Severity"] == "7"
    assert event["request"] == "http://fakess123.nu/a?b=c=d" and event["msg"] == "two words"
    PRESETS["cef"](event)
    assert (event["SourceAddress"], event["DestinationAddress"]) == ("10.0.0.5", "192.0.2.1")
    assert event["DeviceCustomString1"] == "Block all"
    assert parse_keyvalue('src=1.2.3.4 user="a b" n=\'x\',dst=5.6.7.8') == \
        {"src": "1.2.3.4", "user": "a b", "n": "x", "dst": "5.6.7.8"}


@pytest.mark.parametrize(("text", "event", "expected"), [
    ("DestinationAddress not in 10.0.0.0/8", {"DestinationAddress": "10.1.2.3"}, False),
    ("DestinationAddress not in 10.0.0.0/8", {"DestinationAddress": "192.0.2.1"}, True),
    ("DestinationAddress in 10.0.0.0/8,2001:db8::/32", {"DestinationAddress": "2001:db8::1"},
     True),
    ("a = 'x y' and b != c", {"a": "x y", "b": "d"}, True),
    ("a equals 1 or not (b exists)", {"a": 2}, True),
    ("a not equals 1", {"a": 1}, False),
    ("http.hostname matches '\\.nu$'", {"http": {"hostname": "fakess123.nu"}}, True),
    ("x not exists and y not matches '^a'", {"y": "b"}, True),
    ("NOT a = 1 AND (b = 2 OR c = 3)", {"a": 2, "c": 3}, True),
])
def test_filters(text: str, event: dict[str, object], expected: bool) -> None:
    assert parse_filter(text)(event) is expected


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty filter"), ("a", "expected an operator after 'a'"),
    ("a in nowhere", "not a network"), ("(a exists", "expected ')'"),
    ("a exists b", "column 10"), ("a matches '['", "bad regular expression"),
    ("and = 1", "expected a field name"),
])
def test_filter_errors_say_where(text: str, message: str) -> None:
    with pytest.raises(FilterError, match=re.escape(message)):
        parse_filter(text)


def test_limiter_holds_in_every_one_second_window() -> None:
    async def run() -> list[float]:
        limiter = WindowLimiter(50, margin=0.0)
        starts: list[float] = []

        async def one() -> None:
            await limiter.acquire()
            starts.append(time.monotonic())
        await asyncio.gather(*(one() for _ in range(160)))
        return starts
    starts = sorted(asyncio.run(run()))
    for i in range(len(starts) - 50):
        assert starts[i + 50] - starts[i] >= 0.999  # any 51 starts span a second or more
    assert starts[-1] - starts[0] < 3.3  # and it does not crawl: 160 at 50/s is 3 s


def test_framing_lf_and_octet_counting() -> None:
    framer = Framer("auto", limit=20)
    assert framer.feed(b"<13>a\r\n9 <13>b\nc d") == [b"<13>a", b"<13>b\nc d"]
    assert framer.feed(b"5 <13>") == []
    assert framer.feed(b"e") == [b"<13>e"]
    assert framer.feed(b"x" * 30 + b"\nok\n") == [b"ok"] and framer.too_long == 1
    assert Framer("lf").feed(b"83.149.9.216 - - x\n") == [b"83.149.9.216 - - x"]


def test_detection_lines_and_request_lines() -> None:
    line = r"Category=C|MatchedIndicator=198.51.100.0/24|comment=a\|b|url=http://x/?a=b|n=1"
    assert parse_detection(line) == {"category": "C", "indicator": "198.51.100.0/24",
                                     "context": {"comment": "a|b", "url": "http://x/?a=b",
                                                 "n": "1"}}
    sent = [("SourceAddress", "ip", "10.0.0.1"), ("DestinationAddress", "ip", "198.51.100.7")]
    entries = tcp_entries("r", [line, line], sent)
    assert len(entries) == 1 and entries[0]["field"] == "DestinationAddress"
    assert request_line([("u", "url", "http://a/b|c\n"), ("i", "ip", "1.2.3.4")]) == \
        b"url=http://a/b%7Cc|ip=1.2.3.4\n"
    assert json.dumps(entries[0])  # JSON as documented


def test_verdict_cache_shares_requests_within_the_ttl_and_a_sweeper_times_out() -> None:
    from trapline.collector.config import Mapping, RuleConfig
    from trapline.collector.counters import Counters
    from trapline.collector.enrich.rule import EnrichmentRule

    async def run() -> tuple[list[bytes], list[dict[str, object]], Counters]:
        requests: list[bytes] = []

        async def service(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readexactly(len(b"X-KF-ReplyBackX-KF-SendFinishedEvent"))
            while line := await reader.readline():
                requests.append(line)
                if b"203.0.113.99" in line:
                    continue  # never answered: the sweeper times it out
                writer.write(b"Category=Bad|MatchedIndicator=192.0.2.1\nLookupFinished\n")
        server = await asyncio.start_server(service, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        counters = Counters()
        rule = EnrichmentRule(RuleConfig(
            name="r", kind="cybertrace", url=f"127.0.0.1:{port}", connections=1,
            timeout=0.5, cache_ttl=0.3, mapping=(Mapping(field="ip", type="ip"),)), counters)
        events: list[dict[str, object]] = [{"ip": "192.0.2.1"} for _ in range(4)]
        events.append({"ip": "203.0.113.99"})
        started = time.monotonic()
        await asyncio.gather(*(rule.apply(e, rule.plan(e)) for e in events[:3]))
        await rule.apply(events[3], rule.plan(events[3]))  # from the cache
        await asyncio.sleep(0.35)
        late: dict[str, object] = {"ip": "192.0.2.1"}  # the answer expired: asked again
        await rule.apply(late, rule.plan(late))
        await rule.apply(events[4], rule.plan(events[4]))
        assert 0.45 <= time.monotonic() - started - 0.35 <= 1.0
        await rule.close()
        server.close()
        return requests, [*events, late], counters
    requests, events, counters = asyncio.run(run())
    assert [line.split(b"=")[1] for line in requests] == [b"192.0.2.1\n", b"192.0.2.1\n",
                                                         b"203.0.113.99\n"]
    assert all(e["TIStatus"] == {"r": "enriched"} for e in events if e["ip"] == "192.0.2.1")
    assert str(events[4]["TIStatus"]).startswith("{'r': 'unenriched: timeout")
    assert counters["rule_r_cache_hits"] == 3
    assert counters["rule_r_requests"] == 3


def test_json_lines_are_parsed_from_bytes_and_bad_ones_still_kept_once() -> None:
    from trapline.collector.config import InputConfig
    from trapline.collector.counters import Counters
    from trapline.collector.inputs.base import Intake

    async def run() -> tuple[list[dict[str, object]], Counters]:
        queue: asyncio.Queue[dict[str, object]] = asyncio.Queue(10)
        counters = Counters()
        intake = Intake(InputConfig(type="tcp", name="in", format="json"), queue, counters)
        await intake.messages([b'{"ip": "192.0.2.1", "user": "\xc3\xa9"}',
                               b'{"user": "\xff"}',  # not UTF-8: decoded with U+FFFD
                               b"not json"])
        return [queue.get_nowait() for _ in range(queue.qsize())], counters

    events, counters = asyncio.run(run())
    assert events[0] == {"ip": "192.0.2.1", "user": "é"}
    assert events[1] == {"user": "\ufffd"}
    assert events[2]["message"] == "not json" and "ParseError" in events[2]
    assert counters["input_in_received"] == 3 and counters["input_in_parse_errors"] == 1
