"""Domain names (docs/matching.md, kind ``domain``)."""

from __future__ import annotations

import pytest

from trapline.indicators import InvalidIndicator, Kind, normalize
from trapline.indicators.domain import canonical_domain, is_public_suffix, parents


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("evil.example", "evil.example"),
        ("EVIL.Example", "evil.example"),
        ("evil.example.", "evil.example"),  # no trailing dot
        ("a-b_c.d9.example", "a-b_c.d9.example"),
        ("123.example", "123.example"),  # digits are fine except in the TLD
        ("тест.рф", "xn--e1aybc.xn--p1ai"),  # IDN to Punycode
        ("ТЕСТ.РФ.", "xn--e1aybc.xn--p1ai"),  # the spec example
        ("xn--e1aybc.xn--p1ai", "xn--e1aybc.xn--p1ai"),
        ("XN--E1AYBC.XN--P1AI", "xn--e1aybc.xn--p1ai"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example", "xn--bcher-kva.example"),
    ],
)
def test_domain_canonical(value: str, expected: str) -> None:
    assert normalize(value) == (Kind.DOMAIN, expected)
    assert normalize(value, Kind.DOMAIN) == (Kind.DOMAIN, expected)


def test_idn_spellings_are_one_domain() -> None:
    forms = {normalize(v) for v in ("тест.рф", "ТЕСТ.РФ", "xn--e1aybc.xn--p1ai", "тест.рф.")}
    assert forms == {(Kind.DOMAIN, "xn--e1aybc.xn--p1ai")}


@pytest.mark.parametrize(
    "value",
    [
        "localhost",  # one label
        "example.123",  # TLD all digits
        "ex ample.com",
        "a..example",  # an empty label
        ".",
        "evil!.example",
        "a" * 64 + ".example",  # a label longer than 63 octets
        ".".join(["a" * 60] * 5),  # longer than 253
    ],
)
def test_invalid_domains_rejected(value: str) -> None:
    with pytest.raises(InvalidIndicator):
        canonical_domain(value)
    with pytest.raises(InvalidIndicator):
        normalize(value, Kind.DOMAIN)


@pytest.mark.parametrize("value", ["localhost", "example.123", "foo"])
def test_invalid_domains_are_not_indicators(value: str) -> None:
    with pytest.raises(InvalidIndicator):
        normalize(value)


def test_parents_on_label_boundaries() -> None:
    assert list(parents("a.b.evil.example")) == ["b.evil.example", "evil.example", "example"]
    assert list(parents("example")) == []


@pytest.mark.parametrize(
    ("name", "public"),
    [
        ("co.uk", True),
        ("github.io", True),
        ("com", True),
        ("evil.co.uk", False),
        ("user.github.io", False),
        ("evil.example.com", False),
    ],
)
def test_public_suffixes(name: str, public: bool) -> None:
    assert is_public_suffix(name) is public
