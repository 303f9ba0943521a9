"""Suricata and Snort IoC rules: each supported rule shape, content escapes, address lists,
skipped shapes, malformed lines, and the real urlhaus-filter rules in ../shared/data."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trapline.errors import FeedParseError
from trapline.feeds.config import feed_for_path
from trapline.feeds.report import FeedReport
from trapline.feeds.suricata_rules import (
    MALFORMED,
    MAX_LINE,
    NO_IOC,
    PASS_RULE,
    TOO_LONG,
    decode_content,
    read_suricata_rules,
    split_options,
)
from trapline.index import IndicatorRecord, build_memory_snapshot

REAL = "feeds/urlhaus-filter/urlhaus-filter-suricata-online.first500.rules"
HTTP = "alert http $HOME_NET any -> $EXTERNAL_NET any"
DNS = "alert dns $HOME_NET any -> any any"
TLS = "alert tls $HOME_NET any -> $EXTERNAL_NET any"


def read(path: Path, **settings: Any) -> tuple[list[IndicatorRecord], FeedReport]:
    report = FeedReport()
    return list(read_suricata_rules(path, feed_for_path(path, **settings), report)), report


def read_text(tmp_path: Path, text: str, **settings: Any) -> tuple[list[IndicatorRecord],
                                                                   FeedReport]:
    path = tmp_path / "iocs.rules"
    path.write_text(text, encoding="utf-8")
    return read(path, **settings)


def values(tmp_path: Path, *rules: str) -> list[tuple[str, str | None]]:
    records, report = read_text(tmp_path, "\n".join(rules) + "\n")
    assert not report.skipped, report.samples
    return [(r.value, r.kind) for r in records]


def skipped(tmp_path: Path, *rules: str) -> FeedReport:
    records, report = read_text(tmp_path, "\n".join(rules) + "\n")
    assert records == []
    return report


# -- the real file ---------------------------------------------------------------------------

def test_urlhaus_filter_rules_load_as_they_are(shared_data: Path) -> None:
    records, report = read(shared_data / REAL)
    # 500 lines: 6 '#' header lines and 494 rules, each `http.method; content:"GET";
    # http.host; content:"X"` (grep -c 'http.host; content' gives 494, grep -vc '^#' too;
    # grep -o 'http.host; content:"[^"]*"' | grep -c '"[0-9.]*"$' gives 491 IPv4 hosts).
    assert len(records) == 494 and not report.skipped
    assert len({r.value for r in records}) == 494
    assert all(r.kind is None for r in records)
    first, last = records[0], records[-1]
    assert first.value == "0022a601.pphost.net"
    assert first.feed == "urlhaus-filter-suricata-online.first500.rules"
    assert first.category == "urlhaus-filter-suricata-online.first500"
    assert first.context == {"msg": "urlhaus-filter malicious website detected",
                             "classtype": "trojan-activity", "sid": "100000001"}
    assert (last.value, last.context["sid"]) == ("123.ywxww.net", "100000494")
    assert records[1].value == "1.1.109.99" and records[1].context["sid"] == "100000002"
    assert sum(1 for r in records if r.value.replace(".", "").isdigit()) == 491


def test_urlhaus_filter_rules_end_to_end(shared_data: Path) -> None:
    snapshot = build_memory_snapshot(read(shared_data / REAL)[0])
    match = snapshot.lookup("cdn.0022a601.pphost.net").matches[0]
    assert (match.how, match.pattern) == ("parent-domain", "0022a601.pphost.net")
    assert match.context["sid"] == "100000001"
    via_host = snapshot.lookup("http://1.1.109.99/bins/x.sh").matches[0]
    assert via_host.pattern == "1.1.109.99" and via_host.context["sid"] == "100000002"
    assert not snapshot.lookup("pphost.net").matches


# -- rule shapes that are read ---------------------------------------------------------------

def test_http_host_sticky_and_legacy_forms(tmp_path: Path) -> None:
    assert values(
        tmp_path,
        f'{HTTP} (msg:"a"; http.method; content:"GET"; http.host; content:"Evil.Example"; '
        "sid:1;)",
        f'{HTTP} (msg:"b"; content:"GET"; http_method; content:"198.51.100.9"; http_host; '
        "nocase; sid:2;)",
    ) == [("Evil.Example", None), ("198.51.100.9", None)]


def test_host_and_uri_make_one_url(tmp_path: Path) -> None:
    assert values(
        tmp_path,
        # urlhaus-filter's URL rules: the URI first, `endswith`, `;` escaped
        f'{HTTP} (msg:"u"; flow:established,from_client; http.method; content:"GET"; '
        r'http.uri; content:"/a\;b/x.php"; endswith; nocase; http.host; '
        'content:"evil.example"; classtype:trojan-activity; sid:3; rev:1;)',
        # abuse.ch URLhaus Snort/Suricata rules: legacy modifiers, depth + isdataat anchors
        f'{HTTP} (msg:"URLhaus (2594519)"; content:"GET"; http_method; '
        'content:"/f7/vcruntime140.dll"; http_uri; depth:19; isdataat:!1,relative; nocase; '
        'content:"5.75.232.223"; http_host; depth:12; isdataat:!1,relative; sid:4; rev:1;)',
        # Snort 2 uricontent
        f'{HTTP} (uricontent:"/gate.php"; content:"c2.example"; http_host; sid:5;)',
        # a URI without its leading '/'
        f'{HTTP} (http.host; content:"c2.example"; http.uri; content:"x.bin"; sid:6;)',
    ) == [("evil.example/a;b/x.php", "url"), ("5.75.232.223/f7/vcruntime140.dll", "url"),
          ("c2.example/gate.php", "url"), ("c2.example/x.bin", "url")]


def test_uri_prefix_is_a_url_mask(tmp_path: Path) -> None:
    assert values(
        tmp_path,
        f'{HTTP} (http.host; content:"evil.example"; http.uri; content:"/dir/"; startswith; '
        "sid:1;)",
        f'{HTTP} (http.host; content:"evil.example"; http.uri; content:"/a*b?q=1?"; depth:9; '
        "sid:2;)",
    ) == [("evil.example/dir/*", "url-mask"), ("evil.example/a%2Ab?q=1%3F*", "url-mask")]


def test_dns_query_and_tls_sni(tmp_path: Path) -> None:
    assert values(
        tmp_path,
        f'{DNS} (msg:"q"; dns.query; content:"bad.example"; nocase; sid:1;)',
        f'{DNS} (msg:"q"; dns_query; content:"old.example"; sid:2;)',
        f'{TLS} (msg:"s"; tls.sni; content:"sni.example"; bsize:11; sid:3;)',
        f'{TLS} (msg:"s"; tls_sni; content:"legacy.example"; sid:4;)',
    ) == [("bad.example", "domain"), ("old.example", "domain"), ("sni.example", "domain"),
          ("legacy.example", "domain")]


def test_endswith_and_dotprefix(tmp_path: Path) -> None:
    assert values(
        tmp_path,
        # dotprefix + ".X" + endswith: X and its subdomains = the domain X
        f'{DNS} (dns.query; dotprefix; content:".evil.example"; endswith; sid:1;)',
        # ".X" alone: proper subdomains only
        f'{DNS} (dns.query; content:".sub.example"; endswith; sid:2;)',
        f'{HTTP} (http.host; content:".wild.example"; sid:3;)',
        # "X" + endswith: read as the domain X (its subdomains match it too)
        f'{TLS} (tls.sni; content:"tail.example"; endswith; sid:4;)',
        f'{HTTP} (http.host; content:".h.example"; endswith; http.uri; content:"/p"; sid:5;)',
    ) == [("evil.example", "domain"), ("*.sub.example", "url-mask"),
          ("*.wild.example", "url-mask"), ("tail.example", "domain"),
          ("*.h.example/p", "url-mask")]


def test_snort3_sticky_buffers(tmp_path: Path) -> None:
    assert values(
        tmp_path,
        'alert http $HOME_NET any -> $EXTERNAL_NET any (msg:"m"; http_header:field host; '
        'content:"evil.example",nocase; classtype:trojan-activity; sid:1; rev:1;)',
        'alert http (msg:"m"; http_header:field host; content:"evil.example",nocase; '
        'http_uri; content:"/x.exe",nocase; sid:2;)',
    ) == [("evil.example", None), ("evil.example/x.exe", "url")]


def test_content_escapes(tmp_path: Path) -> None:
    assert decode_content(r"evil|2e|example") == "evil.example"
    assert decode_content(r"a|2E 62|c|7c|") == "a.bc|"
    assert decode_content(r'q\"x\;y\\z') == 'q"x;y\\z'
    assert decode_content("|c3 a9|t|C3A9|") == "été"
    for bad in ("a|2e", "a|zz|", "a\\"):
        with pytest.raises(ValueError):
            decode_content(bad)
    assert values(
        tmp_path,
        f'{HTTP} (http.host; content:"evil|2e|example"; http.uri; content:"/a\\"b\\\\c"; '
        "sid:1;)",
    ) == [('evil.example/a"b\\c', "url")]


def test_option_tokenizer_respects_quotes_and_escapes() -> None:
    assert split_options(r'msg:"a; b \"c\"; d"; content:"x\;y"; pcre:"/a;b/i"; nocase;') == [
        ("msg", r'"a; b \"c\"; d"'), ("content", r'"x\;y"'), ("pcre", '"/a;b/i"'),
        ("nocase", "")]
    assert split_options("sid:1 rev:1;  ;") == [("sid", "1 rev:1")]
    with pytest.raises(ValueError):
        split_options('msg:"open; sid:1;')


def test_ip_rules(tmp_path: Path) -> None:
    assert values(
        tmp_path,
        'alert ip $HOME_NET any -> [198.51.100.7, 203.0.113.0/24,2001:db8::/32] any '
        '(msg:"c2"; threshold: type limit, track by_src, seconds 60, count 1; '
        "flowbits:set,ET.Evil; sid:1;)",
        'drop tcp 192.0.2.1 any -> $HOME_NET any (msg:"scanner"; sid:2;)',
        'reject ip any any <> 2001:db8::1 any (msg:"r"; sid:3;)',
        "alert ip !$HOME_NET any -> 192.0.2.0/255.255.255.0 any (sid:4;)",
    ) == [("198.51.100.7", "cidr"), ("203.0.113.0/24", "cidr"), ("2001:db8::/32", "cidr"),
          ("192.0.2.1", "cidr"), ("2001:db8::1", "cidr"), ("192.0.2.0/255.255.255.0", "cidr")]


def test_context_feed_settings_and_sid_without_semicolon(tmp_path: Path) -> None:
    records, _ = read_text(
        tmp_path,
        f'{HTTP} (msg:"say \\"hi\\"\\; bye"; http.host; content:"a.example"; '
        "classtype:bad-unknown; sid:42 rev:3;)\n"
        f"{HTTP} (http.host; content:\"b.example\";)\n",
        name="rules", category="c2", allow=True)
    assert records[0].context == {"msg": 'say "hi"; bye', "classtype": "bad-unknown",
                                  "sid": "42"}
    assert records[1].context == {}
    assert {(r.feed, r.category, r.allow) for r in records} == {("rules", "c2", True)}


# -- lines and files -------------------------------------------------------------------------

def test_comments_blank_lines_and_continuations(tmp_path: Path) -> None:
    records, report = read_text(
        tmp_path,
        "\ufeff# header\n\n"
        f'# {HTTP} (http.host; content:"disabled.example"; sid:1;)\n'
        f'   {HTTP} (msg:"multi"; \\\n'
        '      http.host; content:"joined.example"; \\\n'
        "      sid:2;)\n"
        f'{HTTP} (http.host; \\\n'
        "\n"
        f'{HTTP} (http.host; content:"after.example"; sid:3;)\r\n')
    assert [r.value for r in records] == ["joined.example", "after.example"]
    assert records[0].context == {"msg": "multi", "sid": "2"}
    assert report.skipped == {MALFORMED: 1}  # the continuation cut by a blank line


def test_long_lines_and_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "x.rules"
    long_rule = f'{HTTP} (msg:"{"x" * MAX_LINE}"; http.host; content:"long.example";)\n'
    path.write_bytes(long_rule.encode() + f'{HTTP} (msg:"bad \xff"; http.host; '
                     'content:"ok.example"; sid:1;)\n'.encode("latin-1"))
    records, report = read(path)
    assert [r.value for r in records] == ["ok.example"]
    assert records[0].context["msg"] == "bad \ufffd"
    assert report.skipped == {TOO_LONG: 1}


def test_many_continuation_lines_over_the_limit_are_counted(tmp_path: Path) -> None:
    piece = f'{HTTP} (msg:"' + "x" * 1000 + "\\\n"
    records, report = read_text(tmp_path, piece * 70 + f'";)\n{HTTP} (http.host; '
                                'content:"next.example";)\n')
    assert [r.value for r in records] == ["next.example"]
    assert report.skipped[TOO_LONG] == 1


def test_an_unreadable_file_is_a_feed_parse_error(tmp_path: Path) -> None:
    with pytest.raises(FeedParseError, match="cannot read"):
        read(tmp_path)  # a folder


# -- skipped and counted ---------------------------------------------------------------------

@pytest.mark.parametrize("rule", [
    f'{HTTP} (http.host; content:"a.example"; pcre:"/x/i"; sid:1;)',
    f'{HTTP} (http.host; content:"a.example"; content:"b.example"; sid:1;)',
    f'{HTTP} (http.host; content:"a.example"; http.user_agent; content:"curl"; sid:1;)',
    f'{HTTP} (content:"a.example"; sid:1;)',
    f'{HTTP} (http.host; content:!"a.example"; sid:1;)',
    f'{HTTP} (http.host; content:"a.example"; flowbits:isset,x; sid:1;)',
    f'{HTTP} (http.host; content:"a.example"; flowbits:noalert; sid:1;)',
    f'{HTTP} (http.host; content:"a.example"; isdataat:10; sid:1;)',
    f'{HTTP} (http.host; content:"a.example"; bsize:>3; sid:1;)',
    f'{HTTP} (http.uri; content:"/only/a/path"; sid:1;)',
    f'{DNS} (dns.query; content:"a.example"; tls.sni; content:"b.example"; sid:1;)',
    f'{HTTP} (msg:"flowbits only"; flowbits:set,x; flowbits:noalert; sid:1;)',
    f'{HTTP} (msg:"nothing"; sid:1;)',
    'alert ip $HOME_NET any -> 198.51.100.7 443 (sid:1;)',
    'alert ip 192.0.2.1 any -> 198.51.100.7 any (sid:1;)',
    'alert http $HOME_NET any -> 198.51.100.7 any (http.host; content:"a.example"; sid:1;)',
    'alert ip $HOME_NET any -> !198.51.100.7 any (sid:1;)',
    'alert ip $HOME_NET any -> ![198.51.100.7] any (sid:1;)',
    'alert ip $HOME_NET any -> [$EXTERNAL_NET,198.51.100.7] any (sid:1;)',
    'alert ip $HOME_NET any -> [198.51.100.7,[192.0.2.1]] any (sid:1;)',
    'alert ip $HOME_NET any -> 198.51.100.0-198.51.100.9 any (sid:1;)',
])
def test_rules_without_a_single_ioc_are_counted(tmp_path: Path, rule: str) -> None:
    assert skipped(tmp_path, rule).skipped == {NO_IOC: 1}


@pytest.mark.parametrize("rule", [
    f'{HTTP} http.host; content:"a.example"; sid:1;',
    f'{HTTP} (http.host; content:"a.example; sid:1;)',
    f'{HTTP} (http.host; content:"a|2e|example|"; sid:1;)',
    f'{HTTP} (http.host; content:a.example; sid:1;)',
    'log http $HOME_NET any -> $EXTERNAL_NET any (http.host; content:"a.example";)',
    'alert http $HOME_NET any $EXTERNAL_NET any (http.host; content:"a.example";)',
    "var HOME_NET [10.0.0.0/8]",
    "(",
])
def test_malformed_rules_are_counted(tmp_path: Path, rule: str) -> None:
    assert skipped(tmp_path, rule).skipped == {MALFORMED: 1}


def test_pass_rules_are_counted(tmp_path: Path) -> None:
    report = skipped(tmp_path, 'pass http any any -> any any (http.host; content:"ok.example";)')
    assert report.skipped == {PASS_RULE: 1}
    assert report.samples[0].startswith(PASS_RULE + ": pass http")


# -- matching --------------------------------------------------------------------------------

def test_lookups_on_every_shape(tmp_path: Path) -> None:
    records, _ = read_text(tmp_path, "\n".join([
        f'{HTTP} (msg:"url"; http.host; content:"evil.example"; http.uri; content:"/x.php"; '
        "sid:1;)",
        f'{DNS} (msg:"subs"; dns.query; content:".sub.example"; endswith; sid:2;)',
        f'{HTTP} (msg:"dir"; http.host; content:"d.example"; http.uri; content:"/k/"; '
        "startswith; sid:3;)",
        'alert ip $HOME_NET any -> [203.0.113.0/24] any (msg:"net"; sid:4;)',
    ]) + "\n")
    snapshot = build_memory_snapshot(records)

    def sids(observable: str) -> list[str]:
        return [m.context["sid"] for m in snapshot.lookup(observable).matches]

    assert sids("http://evil.example/x.php") == ["1"]
    assert sids("http://evil.example/y.php") == []
    assert sids("a.sub.example") == ["2"] and sids("sub.example") == []
    assert sids("http://d.example/k/a/b") == ["3"] and sids("http://d.example/kx") == []
    assert sids("203.0.113.77") == ["4"] and sids("203.0.114.1") == []


# -- robustness ------------------------------------------------------------------------------

FRAGMENTS = ["alert", "drop", "pass", "http", "ip", "$HOME_NET", "any", "->", "<>", "[", "]",
             "198.51.100.7", "2001:db8::/32", ",", "!", "(", ")", ";", ":", '"', "\\", "|",
             "2e", " ", "\n", "\\\n", "#", "msg", "sid", "content", "http.host", "http.uri",
             "http_uri", "dns.query", "dotprefix", "endswith", "startswith", "depth", "9",
             "isdataat", "!1,relative", "bsize", "uricontent", "http_header", "field host",
             "flowbits", "a.example", "/p", ".", "*", "?", "\x00", "\ufffd"]


def _check(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.rules"
        path.write_bytes(data)
        with contextlib.suppress(FeedParseError):
            records, _ = read(path)
            assert all(isinstance(r.value, str) for r in records)


@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_feed_parse_error(data: bytes) -> None:
    _check(data)


@given(st.lists(st.sampled_from(FRAGMENTS), max_size=60))
def test_rule_like_lines_raise_only_feed_parse_error(parts: list[str]) -> None:
    _check("".join(parts).encode("utf-8", "surrogatepass"))
