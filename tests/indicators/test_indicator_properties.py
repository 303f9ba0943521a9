"""Property tests of the canonicalizer: idempotence, one canonical form per spelling.

Select ``HYPOTHESIS_PROFILE=thorough`` for 100,000 examples per property.
"""

from __future__ import annotations

import ipaddress

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from trapline.indicators import Indicator, InvalidIndicator, Kind, canonical_url, normalize


def examples(n: int) -> settings:
    """``n`` examples, or the loaded profile's count when that is larger (``thorough``)."""
    return settings(max_examples=max(n, settings.default.max_examples))


def assert_fixed_point(indicator: Indicator) -> None:
    again = normalize(indicator.value, indicator.kind)
    assert again == indicator, f"{indicator} normalizes to {again}"


# -- strategies ----------------------------------------------------------------------------------

ipv4_ints = st.integers(0, 2**32 - 1)
ipv6_ints = st.integers(0, 2**128 - 1)
LETTERS = "abcdefghijklmnopqrstuvwxyz"
CYRILLIC = "абвгдежзийклмнопрстуфхцчшщъыьэюя"

ascii_labels = st.text(LETTERS + "0123456789-_", min_size=1, max_size=12).filter(
    lambda s: s[0] not in "-" and s[-1] not in "-" and "--" not in s[2:4]
)
unicode_labels = st.text(CYRILLIC, min_size=1, max_size=8)
tlds = st.text(LETTERS, min_size=2, max_size=6)


@st.composite
def domains(draw: st.DrawFn, unicode: bool = True) -> str:
    labels = draw(
        st.lists(
            st.one_of(ascii_labels, unicode_labels) if unicode else ascii_labels,
            min_size=1,
            max_size=4,
        )
    )
    tld = draw(st.one_of(tlds, unicode_labels) if unicode else tlds)
    name = ".".join([*labels, tld])
    return draw(st.sampled_from([name, name.upper(), name + "."]))


def ipv4_text_any_notation(draw: st.DrawFn, value: int) -> str:
    """An IPv4 URL host in one of the WHATWG notations."""
    octets = [(value >> s) & 255 for s in (24, 16, 8, 0)]
    style = draw(st.sampled_from(["dotted", "int", "hex", "octal", "two", "three", "hexparts"]))
    if style == "dotted":
        return ".".join(map(str, octets))
    if style == "int":
        return str(value)
    if style == "hex":
        return hex(value)
    if style == "octal":
        return ".".join("0" + oct(o)[2:] for o in octets)
    if style == "two":
        return f"{octets[0]}.{value & 0xFFFFFF}"
    if style == "three":
        return f"{octets[0]}.{octets[1]}.{value & 0xFFFF}"
    return ".".join(hex(o) for o in octets)


def ipv6_spellings(draw: st.DrawFn, value: int) -> str:
    address = ipaddress.IPv6Address(value)
    text = draw(st.sampled_from([str(address), address.exploded]))
    return draw(st.sampled_from([text, text.upper()]))


@st.composite
def hosts(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["domain", "ipv4", "ipv6"]))
    if kind == "domain":
        return draw(domains())
    if kind == "ipv4":
        return ipv4_text_any_notation(draw, draw(ipv4_ints))
    return "[" + ipv6_spellings(draw, draw(ipv6_ints)) + "]"


escapes = st.integers(0, 255).map(lambda b: f"%{b:02X}")
path_chars = st.text(
    st.characters(
        codec="utf-8",
        exclude_categories=("Cs",),
        exclude_characters="/?#",
    ),
    max_size=8,
)
segments = st.lists(st.one_of(path_chars, escapes, st.sampled_from([".", "..", "", "%2e"])),
                    max_size=5)
query_text = st.lists(
    st.one_of(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",),
                                    exclude_characters="#"), max_size=8), escapes),
    max_size=4,
).map("".join)


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["", "http://", "https://", "HTTP://", "ftp://", "hxxp://",
                                   "//"]))
    userinfo = draw(st.sampled_from(["", "user@", "user:pw@", "a%40b@"]))
    host = draw(hosts())
    port = draw(st.sampled_from(["", ":80", ":443", ":8080", ":1"]))
    path = "/".join(draw(segments))
    sep = draw(st.sampled_from(["/", "\\", "//"]))
    value = scheme + userinfo + host + port + (sep + path if path or draw(st.booleans()) else "")
    if draw(st.booleans()):
        value += "?" + draw(query_text)
    if draw(st.booleans()):
        value += "#" + draw(st.text(max_size=5))
    return value


# -- idempotence ---------------------------------------------------------------------------------


@examples(500)
@given(ipv4_ints, st.booleans())
def test_ipv4_idempotent(value: int, padded: bool) -> None:
    octets = [(value >> s) & 255 for s in (24, 16, 8, 0)]
    text = ".".join(f"{o:03d}" if padded else str(o) for o in octets)
    indicator = normalize(text)
    assert indicator == (Kind.IPV4, str(ipaddress.IPv4Address(value)))
    assert_fixed_point(indicator)


@examples(500)
@given(ipv6_ints, st.data())
def test_ipv6_idempotent(value: int, data: st.DataObject) -> None:
    indicator = normalize(ipv6_spellings(data.draw, value))
    address = ipaddress.IPv6Address(value)
    if address.ipv4_mapped is not None:
        assert indicator == (Kind.IPV4, str(address.ipv4_mapped))
    else:
        assert indicator == (Kind.IPV6, str(address))
    assert_fixed_point(indicator)


@examples(500)
@given(st.one_of(ipv4_ints.map(ipaddress.IPv4Address), ipv6_ints.map(ipaddress.IPv6Address)),
       st.data())
def test_cidr_idempotent(address: ipaddress._BaseAddress, data: st.DataObject) -> None:
    prefix = data.draw(st.integers(0, address.max_prefixlen))
    indicator = normalize(f"{address}/{prefix}")
    assert_fixed_point(indicator)
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            network = ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    if network.prefixlen == network.max_prefixlen:
        assert indicator.value == str(network.network_address)
    else:
        assert indicator == (Kind.CIDR, str(network))


@examples(500)
@given(domains())
def test_domain_idempotent(name: str) -> None:
    try:
        indicator = normalize(name, Kind.DOMAIN)
    except InvalidIndicator:
        return  # e.g. an all-digit TLD label would be refused; only idempotence matters
    assert indicator.kind is Kind.DOMAIN
    assert indicator.value == indicator.value.lower()
    assert indicator.value.isascii()
    assert not indicator.value.endswith(".")
    assert_fixed_point(indicator)
    assert normalize(indicator.value) == indicator


@examples(1000)
@given(urls())
@example("http://a.example/%2541")
@example("http://a.example/a%20")
@example("http://a.example/%5C%5C")
@example("http://a.example/?%23")
def test_url_idempotent(value: str) -> None:
    try:
        indicator = normalize(value, Kind.URL)
    except InvalidIndicator:
        return
    assert indicator.kind is Kind.URL
    assert "#" not in indicator.value
    assert_fixed_point(indicator)


@examples(1000)
@given(urls())
def test_detected_url_idempotent(value: str) -> None:
    try:
        indicator = normalize(value)
    except InvalidIndicator:
        return
    assert_fixed_point(indicator)


@examples(500)
@given(urls(), st.lists(st.integers(0, 200), min_size=1, max_size=3),
       st.sampled_from(["*", "?*", "*?"]))
@example("host.example/a%3Fb/*", [], "*")
@example("host.example/a*%20", [], "*")
def test_mask_idempotent(value: str, positions: list[int], wildcard: str) -> None:
    for position in positions:
        position = min(position, len(value))
        value = value[:position] + wildcard + value[position:]
    try:
        indicator = normalize(value)
    except InvalidIndicator:
        return
    assert_fixed_point(indicator)


@examples(1000)
@given(st.text())
@example("[")
@example("*")
@example("::ffff:")
@example("%")
@example("http://[")
@example("*.")
@example("0x")
@example("host.example/a*%20")
@example("0.0.0.0/%00?0")
@example("0.aa/\x85?")
def test_any_text_normalizes_or_raises_invalid_indicator(value: str) -> None:
    normalizes_or_refuses(value)


@examples(300)
@given(st.text(alphabet=st.sampled_from("ab.:/?#@*%[]\\0x1fF-_ \x85"), max_size=20))
@example("_\\*]] /")
def test_url_like_text_normalizes_or_raises_invalid_indicator(value: str) -> None:
    normalizes_or_refuses(value)


def normalizes_or_refuses(value: str) -> None:
    """Any text either has a canonical form that is a fixed point or is refused cleanly."""
    try:
        indicator = normalize(value)
    except InvalidIndicator:
        return
    assert_fixed_point(indicator)


@examples(300)
@given(st.text(), st.sampled_from(list(Kind)))
def test_any_text_as_any_kind_raises_only_invalid_indicator(value: str, kind: Kind) -> None:
    try:
        indicator = normalize(value, kind)
    except InvalidIndicator:
        return
    assert_fixed_point(indicator)


# -- one canonical form per spelling ------------------------------------------------------------


@examples(500)
@given(ipv6_ints)
def test_ipv6_spellings_agree(value: int) -> None:
    address = ipaddress.IPv6Address(value)
    spellings = {address.compressed, address.exploded, address.compressed.upper(),
                 address.exploded.upper(), f"[{address.compressed}]"}
    assert len({normalize(s) for s in spellings}) == 1


@examples(500)
@given(ipv4_ints)
def test_ipv4_mapped_is_ipv4(value: int) -> None:
    v4 = ipaddress.IPv4Address(value)
    mapped = ipaddress.IPv6Address((0xFFFF << 32) | value)
    spellings = {str(v4), f"::ffff:{v4}", str(mapped), mapped.exploded, mapped.exploded.upper()}
    assert {normalize(s) for s in spellings} == {Indicator(Kind.IPV4, str(v4))}


@examples(500)
@given(st.lists(unicode_labels, min_size=1, max_size=3), st.sampled_from(["рф", "com", "бг"]))
def test_idn_spellings_agree(labels: list[str], tld: str) -> None:
    name = ".".join([*labels, tld])
    punycode = name.encode("idna").decode("ascii")
    spellings = {name, name.upper(), punycode, punycode.upper(), name + "."}
    assert {normalize(s) for s in spellings} == {Indicator(Kind.DOMAIN, punycode.lower())}


url_paths = st.lists(st.text(LETTERS + "0123456789-_.~", min_size=1, max_size=6).filter(
    lambda s: s.strip(".") != ""), max_size=3)
url_queries = st.one_of(st.just(""), st.text(LETTERS + "0123456789=&", min_size=1, max_size=8))


@examples(500)
@given(domains(unicode=False), url_paths, url_queries, st.data())
def test_url_spellings_agree(host: str, path: list[str], query: str, data: st.DataObject) -> None:
    host = host.lower().rstrip(".")
    assume(not host.startswith("www."))
    rest = "/" + "/".join(path) if path else ""
    query_part = ("/" if not path else "") + "?" + query if query else ""
    if query and not path:
        rest = ""
    base = f"http://{host}{rest}{query_part}"
    try:
        canonical = normalize(base, Kind.URL)
    except InvalidIndicator:
        return
    draw = data.draw
    variants = {
        base,
        f"{host}{rest}{query_part}",  # default scheme
        f"https://{host}{rest}{query_part}",
        f"HTTP://{host.upper()}{rest}{query_part}",  # host case
        f"http://www.{host}{rest}{query_part}",  # www.
        f"http://WWW.{host}{rest}{query_part}",
        f"http://{host}:80{rest}{query_part}",  # port
        f"https://{host}:443{rest}{query_part}",
        f"http://user:pw@{host}:{draw(st.integers(1, 65535))}{rest}{query_part}",
        f"{base}#{draw(st.text(LETTERS, max_size=5))}",  # fragment
        f"http://{host}.{rest}{query_part}",  # trailing dot
        f"{base}{'/' if not query else ''}",  # trailing slash
    }
    assert {normalize(v, Kind.URL) for v in variants} == {canonical}


@examples(500)
@given(ipv4_ints, st.data())
def test_ipv4_url_host_notations_agree(value: int, data: st.DataObject) -> None:
    host = ipv4_text_any_notation(data.draw, value)
    parsed = canonical_url(f"http://{host}/a")
    expected = str(ipaddress.IPv4Address(value))
    assert parsed.value == f"{expected}/a"
    assert parsed.host == expected
