"""Canonical URLs: every rule of docs/matching.md *URLs*, in the spec's order."""

from __future__ import annotations

import ipaddress

import pytest

from trapline.indicators import InvalidIndicator, Kind, canonical_url, normalize
from trapline.indicators.url import HostKind


def url(value: str) -> str:
    indicator = normalize(value, Kind.URL)
    assert indicator.kind is Kind.URL
    return indicator.value


# -- the vendor's test vectors ---------------------------------------------------------------


def test_vendor_vector_query_with_slash() -> None:
    assert url("https://www.example.com:443/?q=hello%20world#fragment") == (
        "example.com/?q=hello world"
    )


def test_vendor_vector_default_port() -> None:
    assert url("http://example.com:80") == "example.com"


def test_vendor_vectors_through_detection() -> None:
    assert normalize("https://www.example.com:443/?q=hello%20world#fragment") == (
        Kind.URL,
        "example.com/?q=hello world",
    )
    assert normalize("http://example.com:80") == (Kind.URL, "example.com")


# -- 1. scheme ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "http://evil.example/a",
        "https://evil.example/a",
        "HTTP://evil.example/a",
        "ftp://evil.example/a",
        "tcp://evil.example/a",
        "hxxp://evil.example/a",
        "hxxps://evil.example/a",
        "evil.example/a",  # no scheme: read as http://
        "//evil.example/a",
        "http:evil.example/a",
        "http:///evil.example/a",
    ],
)
def test_scheme_dropped(value: str) -> None:
    assert url(value) == "evil.example/a"


def test_anything_else_before_a_colon_is_a_host() -> None:
    assert url("example.com:8080/x") == "example.com/x"
    assert canonical_url("example.com:8080/x").host == "example.com"


# -- 2. user info and port -------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "http://user@evil.example/a",
        "http://user:secret@evil.example:8080/a",
        "ftp://anonymous@evil.example:21/a",
        "evil.example:1/a",
        "http://a@b@evil.example/a",
    ],
)
def test_userinfo_and_port_dropped(value: str) -> None:
    assert url(value) == "evil.example/a"


def test_userinfo_decides_the_host() -> None:
    # github.com@520966948 has the host 520966948 (github.com is user info).
    parsed = canonical_url("http://github.com@520966948/")
    assert parsed.host_kind == HostKind.IPV4
    assert parsed.host == str(ipaddress.IPv4Address(520966948))


# -- 3. host -----------------------------------------------------------------------------------


def test_decimal_host_arithmetic() -> None:
    # protocol.md prints 31.13.72.212 for this example, but 520966948 = 0x1F0D5324,
    # which is 31.13.83.36; matching.md has the arithmetic right.
    assert 520966948 == 0x1F0D5324
    assert str(ipaddress.IPv4Address(520966948)) == "31.13.83.36"
    assert url("http://github.com@520966948/") == "31.13.83.36"
    assert url("http://520966948/x") == "31.13.83.36/x"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("0x7f.1", "127.0.0.1"),  # the spec example: hex and two parts
        ("0x7F.0x1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),  # octal
        ("0177.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),  # one decimal part
        ("0x7f000001", "127.0.0.1"),  # one hex part
        ("017700000001", "127.0.0.1"),  # one octal part
        ("127.1", "127.0.0.1"),  # two parts
        ("127.0.1", "127.0.0.1"),  # three parts
        ("10.0.258", "10.0.1.2"),  # the last part fills the remaining bytes
        ("010.010.010.010", "8.8.8.8"),  # in URLs, a leading 0 is octal (WHATWG)
        ("192.168.0.1", "192.168.0.1"),
        ("0x.0x.0x.0x", "0.0.0.0"),
    ],
)
def test_ipv4_host_notations(host: str, expected: str) -> None:
    parsed = canonical_url(f"http://{host}/")
    assert (parsed.value, parsed.host, parsed.host_kind) == (expected, expected, HostKind.IPV4)
    assert url(f"http://{host}/path") == f"{expected}/path"


@pytest.mark.parametrize("host", ["256.0.0.1", "1.2.3.4.5", "0x100000000", "4294967296"])
def test_invalid_ipv4_hosts_are_refused(host: str) -> None:
    with pytest.raises(InvalidIndicator):
        normalize(f"http://{host}/", Kind.URL)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://[2001:DB8:0:0::1]/a", "[2001:db8::1]/a"),
        ("http://[2001:0db8:0000:0000:0000:0000:0000:0001]:8080/a", "[2001:db8::1]/a"),
        ("http://[::1]/", "[::1]"),
        ("http://[::ffff:192.0.2.1]/a", "192.0.2.1/a"),  # mapped: the IPv4 address
        ("http://[::FFFF:C000:201]/a", "192.0.2.1/a"),
    ],
)
def test_ipv6_host_canonical(value: str, expected: str) -> None:
    assert url(value) == expected


def test_ipv6_host_kind() -> None:
    parsed = canonical_url("http://[2001:DB8::1]/")
    assert (parsed.host, parsed.host_kind) == ("[2001:db8::1]", HostKind.IPV6)
    mapped = canonical_url("http://[::ffff:192.0.2.1]/")
    assert (mapped.host, mapped.host_kind) == ("192.0.2.1", HostKind.IPV4)


@pytest.mark.parametrize(
    "value", ["http://тест.рф/", "http://ТЕСТ.РФ/", "http://xn--e1aybc.xn--p1ai/", "тест.рф/"]
)
def test_idn_host(value: str) -> None:
    assert url(value) == "xn--e1aybc.xn--p1ai"
    assert url(value + "путь") == "xn--e1aybc.xn--p1ai/путь"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://EVIL.Example/a", "evil.example/a"),  # lower-cased
        ("http://evil..example/a", "evil.example/a"),  # repeated dots collapsed
        ("http://evil...example/a", "evil.example/a"),
        ("http://.evil.example/a", "evil.example/a"),  # leading dot removed
        ("http://evil.example./a", "evil.example/a"),  # trailing dot removed
        ("http://..evil..example../a", "evil.example/a"),
        ("http://www.evil.example/a", "evil.example/a"),  # leading www. removed
        ("http://WWW.Evil.Example/a", "evil.example/a"),
        ("http://www.com/a", "www.com/a"),  # what remains has no dot: kept
        ("http://www.www.evil.example/a", "www.evil.example/a"),  # only one www.
        ("http://wwwx.evil.example/a", "wwwx.evil.example/a"),
        ("http://sub.www.evil.example/a", "sub.www.evil.example/a"),  # only a leading one
    ],
)
def test_host_rules(value: str, expected: str) -> None:
    assert url(value) == expected


# -- 4. dot segments and backslashes ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://a.example/a/./b", "a.example/a/b"),
        ("http://a.example/a/b/../c", "a.example/a/c"),
        ("http://a.example/../../a", "a.example/a"),
        ("http://a.example/a/b/c/./../../g", "a.example/a/g"),  # RFC 3986 5.4.2
        ("http://a.example/a/%2e%2E/b", "a.example/b"),
        ("http://a.example/a/.", "a.example/a"),
        ("http://a.example/a/..", "a.example"),
    ],
)
def test_dot_segments_removed(value: str, expected: str) -> None:
    assert url(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://a.example\\x\\y", "a.example/x/y"),
        ("http://a.example/x\\y", "a.example/x/y"),
        ("http:\\\\a.example\\x", "a.example/x"),
        ("http://a.example/x\\..\\y", "a.example/y"),
        ("http://a.example/a%5Cb", "a.example/a/b"),  # %5C decodes to \ which becomes /
    ],
)
def test_backslash_is_slash(value: str, expected: str) -> None:
    assert url(value) == expected


# -- 5. path -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://a.example//x///y", "a.example/x/y"),  # // runs collapse
        ("http://a.example/x//", "a.example/x"),
        ("http://a.example/%41%62C/Dir", "a.example/abc/dir"),  # decoded and lower-cased
        ("http://a.example/hello%20world", "a.example/hello world"),
        ("http://a.example/%7Euser", "a.example/~user"),
        ("http://a.example/a%2Fb", "a.example/a/b"),
        ("http://a.example/%D1%82%D0%B5%D1%81%D1%82", "a.example/тест"),
        ("http://a.example/ТЕСТ", "a.example/тест"),
        ("http://a.example/a%2541", "a.example/a%2541"),  # decoded once, the %41 stays literal
        ("http://a.example/a%23b", "a.example/a%23b"),  # a decoded # is escaped again
        ("http://a.example/a%0Ab", "a.example/a%0ab"),  # a control character too
        ("http://a.example/a%20", "a.example/a%20"),  # a trailing space too
    ],
)
def test_path_rules(value: str, expected: str) -> None:
    assert url(value) == expected


# -- 6. query ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://a.example/x?Q=V", "a.example/x?q=v"),  # lower-cased
        ("http://a.example/x?q=%41%42", "a.example/x?q=ab"),  # unescaped once
        ("http://a.example/x?q=a+b", "a.example/x?q=a+b"),  # + stays +
        ("http://a.example/x?q=a%2Bb", "a.example/x?q=a+b"),
        ("http://a.example/x?q=a%00b", "a.example/x?q=ab"),  # %00 dropped
        ("http://a.example/x?q=%2541", "a.example/x?q=%2541"),
        ("http://a.example/x?q=a%23b", "a.example/x?q=a%23b"),
        ("http://a.example/x?q=%D1%82", "a.example/x?q=т"),
        ("http://a.example/x?a=1&B=2", "a.example/x?a=1&b=2"),
    ],
)
def test_query_rules(value: str, expected: str) -> None:
    assert url(value) == expected


# -- 7. fragment and trailing characters ------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://a.example/x#frag", "a.example/x"),
        ("http://a.example/x?q=1#frag", "a.example/x?q=1"),
        ("http://a.example/#frag", "a.example"),
        ("http://a.example/x/", "a.example/x"),  # trailing /
        ("http://a.example/", "a.example"),
        ("http://a.example/x?", "a.example/x"),  # trailing ?
        ("http://a.example/x/?", "a.example/x"),
        ("http://a.example/x?#f", "a.example/x"),
        ("http://a.example/x/.", "a.example/x"),  # trailing /.
        ("http://a.example/x/?q=1", "a.example/x/?q=1"),  # / before a non-empty query stays
        ("http://a.example/?q=1", "a.example/?q=1"),
    ],
)
def test_fragment_and_trailing(value: str, expected: str) -> None:
    assert url(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "http://a.example?q=1",
        "http://a.example/x?q=1",
        "http://a.example/x/?q=1",
        "http://a.example/?q=1",
        "http://a.example/x",
        "http://a.example/x/y/",
    ],
)
def test_host_case_does_not_change_the_rest(value: str) -> None:
    # An upper-case host is the same URL; nothing after the host may depend on it.
    upper = value.replace("a.example", "A.EXAMPLE")
    www = value.replace("a.example", "www.a.example")
    assert url(upper) == url(value)
    assert url(www) == url(value)


# -- whole URLs and errors -----------------------------------------------------------------------


def test_package_docstring_example() -> None:
    assert normalize("hxxps://WWW.Evil[.]example:443/a/../B?X=1#f") == (
        Kind.URL,
        "evil.example/b?x=1",
    )


def test_canonical_url_parts() -> None:
    parsed = canonical_url("https://user@WWW.Evil.Example:8443/A/b?Q=1#x")
    assert parsed.value == "evil.example/a/b?q=1"
    assert parsed.host == "evil.example"
    assert parsed.host_kind == HostKind.DOMAIN


@pytest.mark.parametrize("value", ["http://", "http:///", "http://?x", "http://../a", "http://@/a",
                                   "/dp/B074WC4NHW/ref=sr", "/evil.example", "\\evil.example"])
def test_url_without_a_host_is_refused(value: str) -> None:
    """A single leading slash starts a path (a MISP ``uri``), never a host."""
    with pytest.raises(InvalidIndicator):
        normalize(value, Kind.URL)


def test_two_leading_slashes_start_an_authority() -> None:
    assert normalize("//evil.example/x", Kind.URL).value == "evil.example/x"


@pytest.mark.parametrize(
    "value",
    [
        "https://www.example.com:443/?q=hello%20world#fragment",
        "http://a.example/a%2541",
        "http://a.example/a%23b?x=%2523#f",
        "http://a.example/a%20%20",
        "http://a.example/%0d%0a",
        "http://[2001:db8::1]/x",
        "http://тест.рф/ПУТЬ?Q=Ё",
        "http://a.example/%3Fx%00y",  # a decoded ? before an escaped NUL
        "http://a.example/%3F/%00",
        "http://a.example/a%C2%85",  # a trailing U+0085 (a C1 control character)
        "http://a.example/%00?q=1",
    ],
)
def test_canonical_url_is_a_fixed_point(value: str) -> None:
    once = url(value)
    assert url(once) == once
