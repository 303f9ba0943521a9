"""IP addresses and networks (docs/matching.md, kinds ``ipv4``, ``ipv6``, ``cidr``)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trapline.indicators import InvalidIndicator, Kind, normalize
from trapline.indicators.ip import canonical_cidr


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.2.3.4", "1.2.3.4"),
        ("001.002.003.004", "1.2.3.4"),  # the spec example
        ("010.001.000.255", "10.1.0.255"),  # zero-padded octets are decimal, not octal
        ("0.0.0.0", "0.0.0.0"),
        ("255.255.255.255", "255.255.255.255"),
        (" 198.51.100.7 ", "198.51.100.7"),
    ],
)
def test_ipv4_dotted_quad(value: str, expected: str) -> None:
    assert normalize(value) == (Kind.IPV4, expected)
    assert normalize(value, Kind.IPV4) == (Kind.IPV4, expected)


@pytest.mark.parametrize("value", ["256.1.1.1", "1.2.3.4.5", "1.2.3.-4", "1.2..4"])
def test_invalid_ipv4_is_not_an_address(value: str) -> None:
    with pytest.raises(InvalidIndicator):
        normalize(value, Kind.IPV4)
    assert normalize_kind_or_none(value) != Kind.IPV4


def normalize_kind_or_none(value: str) -> Kind | None:
    try:
        return normalize(value).kind
    except InvalidIndicator:
        return None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2A01:0000::0001", "2a01::1"),  # the spec example
        ("2a01:0000::1", "2a01::1"),
        ("2a01::1", "2a01::1"),
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),  # RFC 5952: first longest run
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  # a single 0 is not compressed
        ("::1", "::1"),
        ("::", "::"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("fe80::1%eth0", "fe80::1"),
    ],
)
def test_ipv6_rfc5952(value: str, expected: str) -> None:
    assert normalize(value) == (Kind.IPV6, expected)
    assert normalize(value, Kind.IPV6) == (Kind.IPV6, expected)


def test_ipv6_compression_equivalence() -> None:
    assert normalize("2a01:0000::1") == normalize("2a01::1")


@pytest.mark.parametrize(
    "value",
    ["::ffff:192.0.2.1", "::FFFF:192.0.2.1", "::ffff:c000:201", "0:0:0:0:0:ffff:c000:0201"],
)
def test_ipv4_mapped_ipv6_is_ipv4(value: str) -> None:
    assert normalize(value) == (Kind.IPV4, "192.0.2.1")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("192.0.2.7/24", (Kind.CIDR, "192.0.2.0/24")),  # host bits cleared
        ("10.1.2.3/8", (Kind.CIDR, "10.0.0.0/8")),
        ("010.001.002.003/16", (Kind.CIDR, "10.1.0.0/16")),
        ("192.0.2.7/255.255.255.0", (Kind.CIDR, "192.0.2.0/24")),  # netmask form
        ("10.9.8.7/255.0.0.0", (Kind.CIDR, "10.0.0.0/8")),
        ("192.0.2.7/255.255.255.255", (Kind.IPV4, "192.0.2.7")),
        ("1.2.3.4/32", (Kind.IPV4, "1.2.3.4")),  # a /32 is the address
        ("1.2.3.4/0", (Kind.CIDR, "0.0.0.0/0")),
        ("2001:DB8::7/32", (Kind.CIDR, "2001:db8::/32")),
        ("2001:db8:0000::1/64", (Kind.CIDR, "2001:db8::/64")),
        ("2a01::1/128", (Kind.IPV6, "2a01::1")),  # a /128 is the address
        ("::/0", (Kind.CIDR, "::/0")),
        ("::ffff:192.0.2.0/120", (Kind.CIDR, "192.0.2.0/24")),  # mapped network
        ("::ffff:192.0.2.77/120", (Kind.CIDR, "192.0.2.0/24")),
        ("::ffff:0.0.0.0/96", (Kind.CIDR, "0.0.0.0/0")),
        ("::ffff:10.0.0.0/104", (Kind.CIDR, "10.0.0.0/8")),
        ("::ffff:192.0.2.1/128", (Kind.IPV4, "192.0.2.1")),
    ],
)
def test_cidr_canonical(value: str, expected: tuple[Kind, str]) -> None:
    assert normalize(value) == expected
    assert normalize(value, Kind.CIDR) == expected


@pytest.mark.parametrize(
    "value", ["1.2.3.4/33", "2001:db8::/129", "1.2.3.4/255.0.255.0", "1.2.3.4/", "1.2.3/24"]
)
def test_invalid_networks(value: str) -> None:
    with pytest.raises(InvalidIndicator):
        normalize(value, Kind.CIDR)
    assert normalize_kind_or_none(value) != Kind.CIDR


def test_cidr_kind_accepts_a_bare_address() -> None:
    assert normalize("1.2.3.4", Kind.CIDR) == (Kind.IPV4, "1.2.3.4")
    assert normalize("2001:db8::1", Kind.CIDR) == (Kind.IPV6, "2001:db8::1")


@pytest.mark.parametrize(
    ("value", "kind"),
    [("2001:db8::1", Kind.IPV4), ("fe80::1", Kind.IPV4), ("1.2.3.4", Kind.IPV6)],
)
def test_requested_ip_kind_is_enforced(value: str, kind: Kind) -> None:
    # normalize(value, kind) raises when the value is not an indicator of that kind.
    with pytest.raises(InvalidIndicator):
        normalize(value, kind)


def test_mapped_address_requested_as_ipv4_is_the_ipv4_address() -> None:
    assert normalize("::ffff:192.0.2.1", Kind.IPV4) == (Kind.IPV4, "192.0.2.1")


@given(st.integers(min_value=0, max_value=2**128 - 1), st.sampled_from([0, 1, 2, 3]))
def test_ipv6_text_agrees_with_ipaddress(value: int, zero_runs: int) -> None:
    """The C library's formatting is used only where it is RFC 5952, as ipaddress is."""
    from trapline.indicators.ip import ipv6_text

    groups = [(value >> (16 * i)) & 0xFFFF for i in range(8)]
    for run in range(zero_runs):
        start = (value >> (3 * run)) % 8
        for i in range(start, min(8, start + run + 1)):
            groups[i] = 0
    value = sum(g << (16 * i) for i, g in enumerate(groups))
    assert ipv6_text(value) == str(ipaddress.IPv6Address(value))


@given(st.integers(min_value=0, max_value=2**32 - 1), st.integers(min_value=0, max_value=32))
def test_fast_cidr_agrees_with_ipaddress_v4(value: int, prefix: int) -> None:
    network = ipaddress.IPv4Network((value, prefix), strict=False)
    indicator = canonical_cidr(f"{ipaddress.IPv4Address(value)}/{prefix}")
    expected = str(network.network_address) if prefix == 32 else str(network)
    assert indicator.value == expected
