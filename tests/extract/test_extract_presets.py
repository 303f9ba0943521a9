"""The presets on the documented examples and on real events (docs/extraction.md, *Presets*)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from trapline.extract import AUTO_ORDER, Extraction, RuleSet, choose_rule_set, presets
from trapline.extract.presets.cef import extension_pairs, unescape
from trapline.extract.presets.keyvalue import pairs
from trapline.extract.values import accept

MD5 = "44d88612fea8a8f36de82e1278abb02f"
SHA1 = "3395856ce81f2b7382dee72602f798b642f14140"
SHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
EVE = "events/suricata-eve-generated"
SYSMON = "events/sysmon-otrf"

SHIPPED = presets()


def run(name: str, event: str) -> Extraction:
    extraction = SHIPPED[name].extract(event)
    assert extraction is not None
    return extraction


def found(name: str, event: str) -> list[tuple[str, str, str]]:
    return [tuple(o) for o in run(name, event).observables]


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_every_preset_is_shipped() -> None:
    assert set(SHIPPED) == {"kuma", "keyvalue", "cef", "eve", "sysmon", "generic"}
    assert all(isinstance(r, RuleSet) and r.name == n for n, r in SHIPPED.items())
    assert presets()["eve"] is not SHIPPED["eve"]  # fresh instances


# -- kuma --------------------------------------------------------------------------------------


def test_kuma_example() -> None:
    event = f"LookupRequest ip=203.0.113.9|url=http://evil.example/a|hash={MD5}"
    extraction = run("kuma", event)
    assert [tuple(o) for o in extraction.observables] == [
        ("ip", "IP", "203.0.113.9"), ("url", "URL", "http://evil.example/a"),
        ("hash", "MD5", MD5)]
    assert extraction.captures["token"] == ["LookupRequest"]


@pytest.mark.parametrize(
    "event",
    [
        f"ip=203.0.113.9|url=http://evil.example/a|hash={SHA256}",
        f"1 ip=203.0.113.9 | url=http://evil.example/a | hash={SHA256}",
        f" IP=203.0.113.9|URL=http://evil.example/a|Hash={SHA256} ",
        f"ip=203.0.113.9|url=http://evil.example/a|sha256={SHA256}|port=80",
    ],
)
def test_kuma_variants(event: str) -> None:
    assert [(kind, value) for _, kind, value in found("kuma", event)] == [
        ("IP", "203.0.113.9"), ("URL", "http://evil.example/a"), ("SHA256", SHA256)]


def test_kuma_more_keys_and_context() -> None:
    event = f"md5={MD5}|sha1={SHA1}|domain=evil.example|url=http://x.example/?a=b|port=80"
    extraction = run("kuma", event)
    assert [(k, v) for _, k, v in [tuple(o) for o in extraction.observables]] == [
        ("MD5", MD5), ("SHA1", SHA1), ("DOMAIN", "evil.example"),
        ("URL", "http://x.example/?a=b")]
    assert extraction.captures["port"] == ["80"]


def test_kuma_without_pairs_is_free_text() -> None:
    assert found("kuma", "ping 192.0.2.1") == [("IP", "IP", "192.0.2.1")]


@pytest.mark.parametrize(
    ("event", "claimed"),
    [
        ("ip=192.0.2.1|url=http://x.example/", True),
        ("LookupRequest ip=192.0.2.1|url=http://x.example/", True),
        ("7 url=http://x.example/", True),
        (f"hash={MD5}", True),
        ("URL=http://x.example/?a=b|ip=192.0.2.1", True),
        ("ip=192.0.2.1 md5= sha1= sha256= url=", False),  # the Splunk app's lines
        ("src.ip=192.0.2.1 dst.ip=192.0.2.2", False),
        ('{"event_type":"dns","src_ip":"192.0.2.1"}', False),
        ("CEF:0|V|P|1|1|x|5|src=192.0.2.1", False),
        ("192.0.2.1 - - [17/May/2015:10:05:03 +0000] GET /", False),
    ],
)
def test_kuma_match(event: str, claimed: bool) -> None:
    match = SHIPPED["kuma"].match
    assert match is not None
    assert (match.search(event) is not None) is claimed


# -- keyvalue ----------------------------------------------------------------------------------


def test_keyvalue_splunk_example() -> None:
    event = f"ip=203.0.113.9 md5={MD5} sha1= sha256= url=http://evil.example/a"
    assert found("keyvalue", event) == [("ip", "IP", "203.0.113.9"), ("md5", "MD5", MD5),
                                        ("url", "URL", "http://evil.example/a")]


def test_keyvalue_maxpatrol_example() -> None:
    event = r"src.ip=10.0.0.5 dst.host=evil.example object.path=C:\Program Files\x.exe dst.port=443"
    extraction = run("keyvalue", event)
    assert [tuple(o) for o in extraction.observables] == [
        ("src.ip", "IP", "10.0.0.5"), ("dst.host", "DOMAIN", "evil.example")]
    assert extraction.captures["object.path"] == [r"C:\Program Files\x.exe"]
    assert extraction.captures["dst.port"] == ["443"]


def test_keyvalue_quoted_values() -> None:
    event = 'msg="a b=c \\"q\\"" host=\'evil.example\' user="x y" dst=192.0.2.1'
    assert pairs(event) == [("msg", 'a b=c "q"'), ("host", "evil.example"), ("user", "x y"),
                            ("dst", "192.0.2.1")]
    assert [(k, v) for _, k, v in found("keyvalue", event)] == [
        ("DOMAIN", "evil.example"), ("IP", "192.0.2.1")]


@pytest.mark.parametrize(
    ("key", "kind"),
    [("src_ip", "IP"), ("dest_ip", "IP"), ("recv_ipv4", "IP"), ("request", "URL"),
     ("filehash", "SHA256"), ("query", "DOMAIN"), ("hostname", "DOMAIN"), ("SHA256", "SHA256")],
)
def test_keyvalue_key_names(key: str, kind: str) -> None:
    value = {"IP": "192.0.2.1", "URL": "http://x.example/", "DOMAIN": "x.example",
             "SHA256": SHA256}[kind]
    assert found("keyvalue", f"{key}={value} other=1") == [(key, kind, value)]


def test_keyvalue_unclosed_quote_runs_to_the_next_key() -> None:
    assert pairs('msg="open ip=192.0.2.1') == [("msg", '"open'), ("ip", "192.0.2.1")]


# -- cef ---------------------------------------------------------------------------------------


def test_cef_example() -> None:
    event = (r"<134>Mar  1 12:00:00 proxy CEF:0|Vendor|Proxy|1.0|100|Blocked|5|src=10.0.0.5 "
             r"dst=203.0.113.9 dhost=evil.example request=http://evil.example/a?b\=c "
             f"fileHash={MD5}")
    extraction = run("cef", event)
    assert [tuple(o) for o in extraction.observables] == [
        ("src", "IP", "10.0.0.5"), ("dst", "IP", "203.0.113.9"),
        ("dhost", "DOMAIN", "evil.example"), ("request", "URL", "http://evil.example/a?b=c"),
        ("fileHash", "MD5", MD5)]
    assert extraction.captures["device_product"] == ["Proxy"]
    assert extraction.captures["name"] == ["Blocked"]


def test_cef_values_with_spaces_and_escapes() -> None:
    extension = r"msg=two  words and a\=b act=blocked cs1=C:\\temp\\x requestContext=a\nb"
    assert extension_pairs(extension) == [
        ("msg", "two  words and a=b"), ("act", "blocked"), ("cs1", r"C:\temp\x"),
        ("requestContext", "a\nb")]


def test_cef_header_escapes() -> None:
    extraction = run("cef", r"CEF:0|Ven\|dor|Pro\\duct|1|1|n|5|src=10.0.0.5")
    assert extraction.captures["device_vendor"] == ["Ven|dor"]
    assert extraction.captures["device_product"] == ["Pro\\duct"]
    assert unescape(r"a\\b\=c") == "a\\b=c"


def test_cef_host_fields_holding_addresses_are_ips() -> None:
    assert found("cef", "CEF:0|V|P|1|1|n|5|dhost=192.0.2.9 shost=WORKSTATION5") == [
        ("dhost", "IP", "192.0.2.9")]


def test_cef_without_header_is_free_text() -> None:
    assert found("cef", "src=192.0.2.1") == [("IP", "IP", "192.0.2.1")]


# -- eve ---------------------------------------------------------------------------------------


def test_eve_dns_v2_v3_and_alert_metadata() -> None:
    v2 = ('{"event_type":"dns","src_ip":"192.168.35.10","dest_ip":"10.55.99.1",'
          '"dns":{"version":2,"type":"query","rrname":"drivres-update.info","rrtype":"A"}}')
    v3 = ('{"event_type":"dns","src_ip":"10.0.0.2","dest_ip":"10.0.0.1","dns":{"version":3,'
          '"type":"request","queries":[{"rrname":"www.example.com","rrtype":"A"}]}}')
    alert = ('{"event_type":"alert","src_ip":"10.0.0.2","dest_ip":"10.0.0.1",'
             '"alert":{"signature":"ET DNS x","signature_id":1},'
             '"dns":{"query":[{"type":"query","rrname":"bad.example.net"}]}}')
    assert found("eve", v2)[2] == ("dns_rrname", "DOMAIN", "drivres-update.info")
    assert found("eve", v3)[2] == ("dns_rrname", "DOMAIN", "www.example.com")
    assert found("eve", alert)[2] == ("dns_rrname", "DOMAIN", "bad.example.net")
    assert run("eve", alert).captures["alert_signature"] == ["ET DNS x"]
    assert run("eve", alert).captures["alert_signature_id"] == ["1"]


def test_eve_dns_answers() -> None:
    detailed = ('{"event_type":"dns","dns":{"type":"answer","rrname":"a.example.com",'
                '"answers":[{"rrname":"a.example.com","rrtype":"CNAME","rdata":"b.example.net"},'
                '{"rrname":"b.example.net","rrtype":"A","rdata":"192.0.2.5"},'
                '{"rrname":"b.example.net","rrtype":"TXT","rdata":"v=spf1"}]}}')
    grouped = ('{"event_type":"dns","dns":{"type":"answer","rrname":"a.example.com",'
               '"grouped":{"A":["192.0.2.5"],"AAAA":["2001:db8::5"],"TXT":["x"]}}}')
    assert found("eve", detailed) == [("dns_rrname", "DOMAIN", "a.example.com"),
                                      ("dns_answer", "DOMAIN", "b.example.net"),
                                      ("dns_answer", "IP", "192.0.2.5")]
    assert found("eve", grouped) == [("dns_rrname", "DOMAIN", "a.example.com"),
                                     ("dns_answer", "IP", "192.0.2.5"),
                                     ("dns_answer", "IP", "2001:db8::5")]


@pytest.mark.parametrize(
    ("http", "expected"),
    [
        ({"hostname": "x.example", "url": "/a?b=c"}, [("http_url", "URL", "x.example/a?b=c")]),
        ({"hostname": "x.example", "url": "http://y.example/p"},
         [("http_url", "URL", "http://y.example/p")]),  # a proxy request: absolute URL
        ({"hostname": "x.example"}, [("http_hostname", "DOMAIN", "x.example")]),
        ({"hostname": "192.0.2.80"}, [("http_hostname", "IP", "192.0.2.80")]),
        ({"url": "/only/a/path"}, []),
        ({"hostname": "x.example", "url": "x.example:443"},
         [("http_url", "URL", "x.example:443")]),  # CONNECT
    ],
)
def test_eve_http(http: dict[str, str], expected: list[tuple[str, str, str]]) -> None:
    assert found("eve", json.dumps({"event_type": "http", "http": http})) == expected


def test_eve_tls_quic_files_email() -> None:
    event = json.dumps({
        "event_type": "alert", "tls": {"sni": "t.example.com"}, "quic": {"sni": "q.example.com"},
        "files": [{"filename": "a.exe", "md5": MD5, "sha256": SHA256}],
        "email": {"url": ["http://mail.example.com/x"]}})
    assert found("eve", event) == [
        ("tls_sni", "DOMAIN", "t.example.com"), ("quic_sni", "DOMAIN", "q.example.com"),
        ("fileinfo_md5", "MD5", MD5), ("fileinfo_sha256", "SHA256", SHA256),
        ("email_url", "URL", "http://mail.example.com/x")]


def test_eve_with_a_syslog_header_and_unexpected_shapes() -> None:
    prefixed = 'Mar  1 12:00:00 ids suricata[7]: {"event_type":"flow","src_ip":"192.0.2.1"}'
    assert found("eve", prefixed) == [("src_ip", "IP", "192.0.2.1")]
    odd = '{"event_type":"dns","src_ip":"192.0.2.1","dns":"not an object"}'
    assert found("eve", odd) == [("IP", "IP", "192.0.2.1")]  # read as free text
    assert found("eve", "not json at all 192.0.2.2") == [("IP", "IP", "192.0.2.2")]


def test_eve_sofacy_capture_yields_both_c2_domains(shared_data: Path) -> None:
    path = shared_data / EVE / "0031_tests_bug-2158_public-ex1_section8_Sofacy.eve.json"
    domains = {o.value for line in lines(path) for o in run("eve", line).observables
               if o.type == "DOMAIN"}
    assert {"drivres-update.info", "softupdates.info"} <= domains


def test_eve_file76_capture_yields_the_c2_address(shared_data: Path) -> None:
    path = shared_data / EVE / "0083_tests_bug-4953_file76.eve.json"
    extractions = [run("eve", line) for line in lines(path)]
    assert all(("IP", "74.120.55.163") in {(o.type, o.value) for o in e.observables}
               for e in extractions)
    urls = {o.value for e in extractions for o in e.observables if o.type == "URL"}
    assert "74.120.55.163/IEyF/EN3GUkgHakZ3iVe/YBqssWlF8iWaHTr/" in urls
    hashes = {(o.type, o.value) for e in extractions for o in e.observables}
    assert ("MD5", "0c6da25c81abed8d32b51e5aa8e934ee") in hashes
    assert ("SHA256", "8ec4a1277a5639ad7f2c61c3a2f64695261d5f7e831f6090ed7cb5168e3eae3f") in hashes


@pytest.mark.parametrize("name", ["suricata-verify_all-pcaps.dns-http-tls-fileinfo.eve.json",
                                  "zeek-traces_all-pcaps.dns-http-tls-fileinfo.eve.json"])
def test_eve_large_files_against_the_json(shared_data: Path, name: str) -> None:
    """Every address, query name, SNI and file hash in the JSON comes out (oracle: json)."""
    missing = []
    for line in lines(shared_data / EVE / name):
        event = json.loads(line)
        got = {(o.type, o.value) for o in run("eve", line).observables}
        wanted = {("IP", event["src_ip"]), ("IP", event["dest_ip"])}
        dns, tls, fileinfo = event.get("dns", {}), event.get("tls", {}), event.get("fileinfo", {})
        for name in (dns.get("rrname", ""), tls.get("sni", "")):
            checked = accept("DOMAIN", name)  # an address yields an IP; see test_accept
            if checked is not None:
                wanted.add(checked)
        for kind in ("md5", "sha1", "sha256"):
            if kind in fileinfo:
                wanted.add((kind.upper(), fileinfo[kind]))
        if not wanted <= got:
            missing.append((wanted - got, line[:200]))
    assert missing == []


def test_eve_real_alert_arrays(shared_data: Path) -> None:
    folder = shared_data / "events/suricata-alerts-frankhassanabad"
    total = 0
    for path in sorted(folder.glob("*.json")):
        for alert in json.loads(path.read_text(encoding="utf-8")):
            extraction = run("eve", json.dumps(alert))
            addresses = [o.value for o in extraction.observables if o.type == "IP"]
            assert addresses[:2] == [alert["src_ip"], alert["dest_ip"]] or \
                alert["src_ip"] == alert["dest_ip"]
            assert extraction.captures["alert_signature"] == [alert["alert"]["signature"]]
            total += 1
    assert total == 548


# -- sysmon ------------------------------------------------------------------------------------


def test_sysmon_example() -> None:
    event = json.dumps({"EventID": 22, "Image": r"C:\Windows\System32\bitsadmin.exe",
                        "QueryName": "raw.githubusercontent.com",
                        "QueryResults": "type:  5 github.map.fastly.net;::ffff:151.101.208.133;"})
    extraction = run("sysmon", event)
    assert [tuple(o) for o in extraction.observables] == [
        ("QueryName", "DOMAIN", "raw.githubusercontent.com"),
        ("QueryResults", "DOMAIN", "github.map.fastly.net"),
        ("QueryResults", "IP", "::ffff:151.101.208.133")]
    assert extraction.captures["EventID"] == ["22"]


def test_sysmon_hashes_and_winlogbeat_nesting() -> None:
    hashes = f"SHA1={SHA1.upper()},MD5={MD5.upper()},SHA256={SHA256.upper()},IMPHASH={MD5}"
    event = json.dumps({"winlog": {"event_id": 1, "computer_name": "ws1.corp.example",
                                   "event_data": {"Hashes": hashes,
                                                  "CommandLine": "curl http://x.example/a",
                                                  "DestinationHostname": "-"}}})
    extraction = run("sysmon", event)
    assert [tuple(o) for o in extraction.observables] == [
        ("SHA1", "SHA1", SHA1.upper()), ("MD5", "MD5", MD5.upper()),
        ("SHA256", "SHA256", SHA256.upper()), ("CommandLine", "URL", "http://x.example/a")]
    assert extraction.captures["IMPHASH"] == [MD5]  # an import hash is no file hash
    assert extraction.captures["Computer"] == ["ws1.corp.example"]


def test_sysmon_real_files(shared_data: Path) -> None:
    """Exact values checked with grep on the files; the MD5 set against a regex oracle."""
    by_file = {}
    for path in sorted((shared_data / SYSMON).glob("*.json")):
        found_here = set()
        for line in lines(path):
            found_here |= {(o.rule, o.type, o.value) for o in run("sysmon", line).observables}
        by_file[path.name[:5]] = found_here
    bits, empire = by_file["cmd_b"], by_file["empir"]
    assert ("QueryName", "DOMAIN", "raw.githubusercontent.com") in bits
    assert ("QueryResults", "DOMAIN", "github.map.fastly.net") in bits
    assert ("DestinationIp", "IP", "151.101.208.133") in bits
    assert ("DestinationIp", "IP", "104.40.17.153") in empire
    assert ("CommandLine", "URL", "https://raw.githubusercontent.com/redcanaryco/atomic-red-team/"
            "master/atomics/T1197/T1197.md") in bits
    assert ("MD5", "MD5", "A094E2B38D3DD864B07580D243CB6E43") in bits
    assert ("SHA256", "SHA256",
            "C441E19D20961D4E990E117A300ED318BEDBF2F8BA0FF07BEE7832AC502CDDF2") in bits
    assert not any(value in ("WORKSTATION5", "localhost", "-")
                   for found_here in by_file.values() for _, _, value in found_here)
    text = "\n".join(p.read_text(encoding="utf-8")
                     for p in sorted((shared_data / SYSMON).glob("*.json")))
    oracle = set(re.findall(r"MD5=([0-9A-F]{32})", text))
    md5s = {value for found_here in by_file.values() for _, kind, value in found_here
            if kind == "MD5"}
    assert md5s == oracle
    assert len(oracle) == 182  # grep -ho 'MD5=[0-9A-F]*' *.json | sort -u | wc -l


# -- generic -----------------------------------------------------------------------------------


def test_generic_example() -> None:
    event = ("Blocked hxxp://evil[.]example/a for 10.0.0.5 (dropper fantasy35.exe, "
             f"md5 {MD5})")
    assert found("generic", event) == [("URL", "URL", "http://evil.example/a"),
                                       ("IP", "IP", "10.0.0.5"), ("MD5", "MD5", MD5)]


def test_generic_apache_logs_yield_every_client_address(shared_data: Path) -> None:
    log = lines(shared_data / "events/apache-access-elastic/apache_logs")
    assert len(log) == 10_000
    clients = set()
    for line in log:
        first = run("generic", line).observables[0]
        assert (first.type, first.value) == ("IP", line.split(" ", 1)[0])
        clients.add(first.value)
    assert len(clients) == 1753  # awk '{print $1}' apache_logs | sort -u | wc -l


def test_generic_apache_line() -> None:
    line = ('83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/logstash-'
            'monitorama-2013/images/kibana-search.png HTTP/1.1" 200 203023 '
            '"http://semicomplete.com/presentations/logstash-monitorama-2013/" "Mozilla/5.0 '
            '(Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) '
            'Chrome/32.0.1700.77 Safari/537.36"')
    assert found("generic", line) == [
        ("IP", "IP", "83.149.9.216"),
        ("URL", "URL", "http://semicomplete.com/presentations/logstash-monitorama-2013/")]


# -- choosing ----------------------------------------------------------------------------------


def test_choose_rule_set_first_match_wins_else_default() -> None:
    a = RuleSet("a", match="^A")
    also_a = RuleSet("a2", match="A")
    b = RuleSet("b", match="^B")
    unmatched = RuleSet("none")
    default = RuleSet("default")
    sets = [unmatched, a, also_a, b]
    assert choose_rule_set("A1", sets, default) is a
    assert choose_rule_set("xA", sets, default) is also_a
    assert choose_rule_set("B", sets, default) is b
    assert choose_rule_set("C", sets, default) is default
    assert choose_rule_set("A", [], default) is default


@pytest.mark.parametrize(
    ("event", "preset"),
    [
        ("CEF:0|V|P|1|1|n|5|src=10.0.0.5", "cef"),
        ("<134>Mar  1 host CEF:0|V|P|1|1|n|5|src=10.0.0.5", "cef"),
        ('{"timestamp":"x","event_type":"dns","src_ip":"10.0.0.1"}', "eve"),
        ('{"EventID":3,"DestinationIp":"10.0.0.1"}', "sysmon"),
        ('{"winlog":{"event_id":3}}', "sysmon"),
        ("LookupRequest ip=10.0.0.1|url=http://x.example/", "kuma"),
        ("ip=10.0.0.1 md5= url=http://x.example/", "keyvalue"),
        ("src.ip=10.0.0.1 dst.host=x.example", "keyvalue"),
        ("10.0.0.1 - - [17/May/2015:10:05:03 +0000] GET /", "generic"),
        ('{"some":"json"}', "generic"),
    ],
)
def test_auto_order_picks_the_format(event: str, preset: str) -> None:
    chosen = choose_rule_set(event, [SHIPPED[n] for n in AUTO_ORDER], SHIPPED["generic"])
    assert chosen.name == preset


def test_choose_rule_set_reads_only_the_first_64_kib() -> None:
    late = "x" * 70_000 + "CEF:0|"
    assert choose_rule_set(late, [SHIPPED["cef"]], SHIPPED["generic"]).name == "generic"
