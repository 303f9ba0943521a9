"""Free text (the ``generic`` preset) and the value shape checks (docs/extraction.md)."""

from __future__ import annotations

import pytest

from trapline.extract.collector import Collector
from trapline.extract.freetext import refang_text, scan_text
from trapline.extract.tld import is_tld
from trapline.extract.values import accept, hash_type

MD5 = "44d88612fea8a8f36de82e1278abb02f"
SHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"


def scan(text: str) -> list[tuple[str, str]]:
    out = Collector()
    scan_text(text, out)
    return [(o.type, o.value) for o in out.observables]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET hxxp://evil[.]example/a from 192.0.2.7, dropped fantasy35.exe",
         [("URL", "http://evil.example/a"), ("IP", "192.0.2.7")]),
        ("c2 evil[.]example[.]com and 198[.]51[.]100[.]7", [("DOMAIN", "evil.example.com"),
                                                     ("IP", "198.51.100.7")]),
        ("hxxps[:]//evil(.)example/x", [("URL", "https://evil.example/x")]),
        ("HXXPS://EVIL.example/x", [("URL", "https://EVIL.example/x")]),
        ("evil[DOT]example[dot]net", [("DOMAIN", "evil.example.net")]),
        ("evil.example", []),  # .example is reserved, not a TLD
        (f"hash {MD5.upper()} and {SHA256}", [("MD5", MD5.upper()), ("SHA256", SHA256)]),
        ("two labels: drivres-update.info.", [("DOMAIN", "drivres-update.info")]),
        ("xn--e1aybc.xn--p1ai", [("DOMAIN", "xn--e1aybc.xn--p1ai")]),
        ("_dmarc.example.com", [("DOMAIN", "_dmarc.example.com")]),
    ],
)
def test_found(text: str, expected: list[tuple[str, str]]) -> None:
    assert scan(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "fantasy35.exe launcher.vbs kibana-search.png WmiPrvSE.exe",  # not TLDs
        "Mozilla/5.0 AppleWebKit/537.36 Chrome/32.0.170.77 Safari/537.36",  # after a '/'
        r"C:\Windows\System32\evil.com /var/www/evil.com",  # paths
        "1.2.3.4.5 01.2.3.4 1.2.3.256 10.0.17763.1 1.3.6.1.4.1",  # not addresses
        "at 10:05:03 from 00:c0:a8:85:0c:23",  # times and MAC addresses are not IPv6
        "1.5 v2.0 3.14 e.g i.e",  # numbers, abbreviations
        MD5 + "0",  # 33 hex digits
        "x" + MD5,  # a word that contains hex
        "WORKSTATION5 localhost",
        "http:// https://",  # a scheme and nothing
    ],
)
def test_not_found(text: str) -> None:
    assert scan(text) == []


def test_known_limitation_file_names_with_real_tlds() -> None:
    # .py is Paraguay, .md Moldova, .zip a gTLD: such file names read as domains.
    assert scan("ran secretsdump.py") == [("DOMAIN", "secretsdump.py")]


def test_order_is_text_order_and_duplicates_are_dropped() -> None:
    text = f"192.0.2.1 http://a.example/x {MD5} 192.0.2.1 b.example.org 2001:db8::1"
    assert scan(text) == [("IP", "192.0.2.1"), ("URL", "http://a.example/x"), ("MD5", MD5),
                          ("DOMAIN", "b.example.org"), ("IP", "2001:db8::1")]


def test_names_inside_a_url_are_not_reported_again() -> None:
    text = "http://user@evil.example:8080/x?u=other.example&ip=192.0.2.1"
    assert scan(text) == [("URL", text)]


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("(see http://a.example/b).", "http://a.example/b"),
        ("<http://a.example/b>", "http://a.example/b"),
        ('"http://a.example/b"', "http://a.example/b"),
        ("http://en.example/wiki/X_(y)", "http://en.example/wiki/X_(y)"),
        ("url=http://a.example/b?c=d|next", "http://a.example/b?c=d"),
        ("ftp://files.example/pub", "ftp://files.example/pub"),
        ("xhttp://a.example/", None),  # no scheme boundary
    ],
)
def test_url_edges(text: str, url: str | None) -> None:
    urls = [value for kind, value in scan(text) if kind == "URL"]
    assert urls == ([url] if url else [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.7:443", [("IP", "192.0.2.7")]),
        ("evil.example.com:8080", [("DOMAIN", "evil.example.com")]),
        ("198.51.100.0/24", [("IP", "198.51.100.0")]),
        ("evil.example.com/path/x.exe", [("DOMAIN", "evil.example.com")]),
        ("[2001:db8::1]:443", [("IP", "2001:db8::1")]),
        ("::ffff:192.0.2.1", [("IP", "::ffff:192.0.2.1")]),
        ("src=192.0.2.7,dst=evil.example.com;", [("IP", "192.0.2.7"),
                                               ("DOMAIN", "evil.example.com")]),
        (f"/files/{MD5}.bin", [("MD5", MD5)]),  # a hash in a path is still a hash
        (f"md5={MD5}", [("MD5", MD5)]),
    ],
)
def test_word_edges(text: str, expected: list[tuple[str, str]]) -> None:
    assert scan(text) == expected


def test_rule_name_override() -> None:
    out = Collector()
    scan_text("fetch https://raw.example/x from 192.0.2.7", out, rule="CommandLine")
    assert [(o.rule, o.type) for o in out.observables] == [("CommandLine", "URL"),
                                                           ("CommandLine", "IP")]
    assert out.captures == {"CommandLine": ["https://raw.example/x", "192.0.2.7"]}


def test_refang_text_leaves_plain_text_alone() -> None:
    text = "[17/May/2015:10:05:03 +0000] (x) {y} xxhash"
    assert refang_text(text) == text


@pytest.mark.parametrize(
    ("label", "expected"),
    [("info", True), ("COM", True), ("py", True), ("xn--p1ai", True), ("рф", True),
     ("exe", False), ("png", False), ("local", False), ("dll", False), ("", False)],
)
def test_is_tld(label: str, expected: bool) -> None:
    assert is_tld(label) is expected


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("IP", " 192.0.2.1 ", ("IP", "192.0.2.1")),
        ("IP", "[2001:db8::1]", ("IP", "2001:db8::1")),
        ("IP", "0:0:0:0:0:0:0:1", ("IP", "0:0:0:0:0:0:0:1")),
        ("IP", "10.0.0.0/8", ("IP", "10.0.0.0/8")),
        ("IP", "1.2.3", None),
        ("IP", "1..2.3", None),
        ("DOMAIN", "evil.example.", ("DOMAIN", "evil.example")),
        ("DOMAIN", '"evil.example"', ("DOMAIN", "evil.example")),
        ("DOMAIN", "тест.рф", ("DOMAIN", "тест.рф")),
        ("DOMAIN", "evil.example:8080", ("DOMAIN", "evil.example")),
        ("DOMAIN", "hvMA+q/x=.AAAA.=auth.srv.tunnel.example", ("DOMAIN", "srv.tunnel.example")),
        ("DOMAIN", "*.evil.example", ("DOMAIN", "evil.example")),
        ("DOMAIN", "evil.example/x", None),
        ("DOMAIN", "a b.example", None),
        ("DOMAIN", ".evil.example", None),
        ("URL", "//evil.example/x", ("URL", "//evil.example/x")),
        ("URL", "evil.example", ("URL", "evil.example")),
        ("URL", "GET", None),
        ("URL", '":', None),
        ("HASH", "0" * 40, ("SHA1", "0" * 40)),
        ("MD5", "", None),
        ("CONTEXT", "x", None),
    ],
)
def test_accept(kind: str, value: str, expected: tuple[str, str] | None) -> None:
    assert accept(kind, value) == expected


def test_hash_type() -> None:
    assert hash_type(MD5) == "MD5"
    assert hash_type(SHA256) == "SHA256"
    assert hash_type("g" * 32) is None
    assert hash_type("a" * 33) is None
