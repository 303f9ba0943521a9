"""Refanging (docs/matching.md, *Refanging*): every defanging token is undone."""

from __future__ import annotations

import pytest

from trapline.indicators import Kind, normalize, refang


@pytest.mark.parametrize(
    ("defanged", "expected"),
    [
        ("hxxp://a.example/", "http://a.example/"),
        ("hxxps://a.example/", "https://a.example/"),
        ("HXXP://a.example/", "http://a.example/"),
        ("HxXpS://a.example/", "https://a.example/"),
        ("evil[.]example", "evil.example"),
        ("evil(.)example", "evil.example"),
        ("evil{.}example", "evil.example"),
        ("evil[dot]example", "evil.example"),
        ("evil(dot)example", "evil.example"),
        ("evil[DOT]example", "evil.example"),
        ("http[:]//evil.example", "http://evil.example"),
        ("http[://]evil.example", "http://evil.example"),
        ("user[at]evil.example", "user@evil.example"),
        ("user(at)evil.example", "user@evil.example"),
        ("user[@]evil.example", "user@evil.example"),
        ("hxxps[:]//evil[.]example/a", "https://evil.example/a"),
        ("1[.]2[.]3[.]4", "1.2.3.4"),
    ],
)
def test_refang_tokens(defanged: str, expected: str) -> None:
    assert refang(defanged) == expected


@pytest.mark.parametrize(
    "value",
    ["http://a.example/", "evil.example", "a.example/x[1]", "a.example/(x)", "xxhash.example"],
)
def test_refang_leaves_plain_values_alone(value: str) -> None:
    assert refang(value) == value


def test_hxxp_only_at_the_start() -> None:
    assert refang("a.example/hxxp://b") == "a.example/hxxp://b"


def test_spec_example_normalizes_to_url() -> None:
    assert normalize("hxxps[:]//evil[.]example/a") == (Kind.URL, "evil.example/a")


@pytest.mark.parametrize(
    ("defanged", "kind", "value"),
    [
        ("evil[.]example", Kind.DOMAIN, "evil.example"),
        ("198[.]51[.]100[.]7", Kind.IPV4, "198.51.100.7"),
        ("hxxp://198(.)51(.)100(.)7/x", Kind.URL, "198.51.100.7/x"),
        ("hxxp[://]evil{.}example/a", Kind.URL, "evil.example/a"),
        ("*[.]evil[.]example", Kind.URL_MASK, "*.evil.example"),
    ],
)
def test_normalize_refangs_first(defanged: str, kind: Kind, value: str) -> None:
    assert normalize(defanged) == (kind, value)
