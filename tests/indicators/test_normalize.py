"""Kind detection and the kinds table of docs/matching.md, through ``normalize``."""

from __future__ import annotations

import pytest

from trapline.index import IndicatorRecord, SnapshotBuilder
from trapline.indicators import (
    Indicator,
    InvalidIndicator,
    Kind,
    detect_kind,
    normalize,
)


@pytest.mark.parametrize(
    ("value", "kind", "canonical"),
    [
        # the examples column of the kinds table
        ("C1153422C5F68E731347F6A33F791598", Kind.MD5, "c1153422c5f68e731347f6a33f791598"),
        ("001.002.003.004", Kind.IPV4, "1.2.3.4"),
        ("2A01:0000::0001", Kind.IPV6, "2a01::1"),
        ("192.0.2.7/24", Kind.CIDR, "192.0.2.0/24"),
        ("ТЕСТ.РФ.", Kind.DOMAIN, "xn--e1aybc.xn--p1ai"),
        ("host/x.php?*", Kind.URL_MASK, "host/x.php[?]*"),
        ("http://example.com:80", Kind.URL, "example.com"),
    ],
)
def test_kinds_table(value: str, kind: Kind, canonical: str) -> None:
    assert normalize(value) == Indicator(kind, canonical)
    assert detect_kind(value) is kind
    assert normalize(value, kind) == Indicator(kind, canonical)


@pytest.mark.parametrize(
    ("value", "kind", "canonical"),
    [
        ("::ffff:192.0.2.1", Kind.IPV4, "192.0.2.1"),
        ("::ffff:192.0.2.0/120", Kind.CIDR, "192.0.2.0/24"),
        ("192.0.2.1/32", Kind.IPV4, "192.0.2.1"),
        ("2001:db8::1/128", Kind.IPV6, "2001:db8::1"),
        # the refanging example
        ("hxxps[:]//evil[.]example/a", Kind.URL, "evil.example/a"),
    ],
)
def test_special_cases(value: str, kind: Kind, canonical: str) -> None:
    assert normalize(value) == Indicator(kind, canonical)
    assert detect_kind(value) is kind


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("evil.example/a", Kind.URL),  # has a /
        ("evil.example?a", Kind.URL),  # has a ?
        ("evil.example#a", Kind.URL),  # has a #
        ("user@evil.example", Kind.EMAIL),  # local@domain, nothing else
        ("user:pw@evil.example", Kind.URL),  # userinfo with a password: a URL
        ("evil.example:8080", Kind.URL),  # has a :
        ("evil.example", Kind.DOMAIN),
        ("*.evil.example", Kind.URL_MASK),
        ("evil.example/*", Kind.URL_MASK),
        ("1.2.3.4", Kind.IPV4),
        ("1.2.3.0/24", Kind.CIDR),
        ("1.2.3.0/255.255.255.0", Kind.CIDR),
        ("2001:db8::/32", Kind.CIDR),
        ("2001:db8::", Kind.IPV6),
        ("a" * 40, Kind.SHA1),
        ("a" * 64, Kind.SHA256),
    ],
)
def test_detection(value: str, kind: Kind) -> None:
    assert detect_kind(value) is kind


def test_kind_may_be_given_as_text() -> None:
    assert normalize("evil.example", "domain") == (Kind.DOMAIN, "evil.example")
    assert normalize("evil.example", "url") == (Kind.URL, "evil.example")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "localhost",
        "foo",
        "example.123",
        # Neither a dotted quad, nor a domain (all-digit TLD / empty label), nor a URL
        # (none of / ? # @ :): not an indicator of any kind.
        "1.2.3",
        "a..example",
    ],
)
def test_not_an_indicator(value: str) -> None:
    with pytest.raises(InvalidIndicator):
        normalize(value)
    assert detect_kind(value) is None


def test_longer_than_8192_characters_refused() -> None:
    base = "http://evil.example/"
    fits = base + "a" * (8192 - len(base))
    assert len(fits) == 8192
    assert normalize(fits).kind is Kind.URL
    with pytest.raises(InvalidIndicator):
        normalize(fits + "a")
    with pytest.raises(InvalidIndicator):
        normalize(fits + "a", Kind.URL)


def test_invalid_indicator_is_a_value_error_with_reason() -> None:
    with pytest.raises(ValueError) as info:
        normalize("not an indicator")
    assert isinstance(info.value, InvalidIndicator)
    assert info.value.value == "not an indicator"
    assert info.value.reason


def test_unknown_kind_text_is_refused() -> None:
    with pytest.raises(ValueError):
        normalize("evil.example", "hostname")


def test_builder_counts_each_kind_once() -> None:
    builder = SnapshotBuilder()
    values = [
        "C1153422C5F68E731347F6A33F791598",
        "1.2.3.4",
        "2a01::1",
        "10.0.0.0/8",
        "evil.example",
        "evil.example/x",
        "*.evil.example",
    ]
    assert builder.add_all(IndicatorRecord(value=v) for v in values) == len(values)
    assert builder.counts == {
        "md5": 1, "ipv4": 1, "ipv6": 1, "cidr": 1, "domain": 1, "url": 1, "url-mask": 1,
    }
