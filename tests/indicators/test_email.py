"""E-mail addresses: canonical form, detection, and what is refused."""

from __future__ import annotations

import pytest

from trapline.indicators import InvalidIndicator, Kind, normalize
from trapline.indicators.email import canonical_email


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Alice@Example.COM", "alice@example.com"),
        ("mailto:bob@evil.example", "bob@evil.example"),
        ("x.y+tag@evil.example.", "x.y+tag@evil.example"),
        ("x@bücher.example", "x@xn--bcher-kva.example"),
        ("  spaced@evil.example  ", "spaced@evil.example"),
    ],
)
def test_canonical_email(text: str, expected: str) -> None:
    assert canonical_email(text) == expected
    assert normalize(text) == (Kind.EMAIL, expected)
    assert normalize(text, "email") == (Kind.EMAIL, expected)


@pytest.mark.parametrize(
    "text", ["a@b", "@evil.example", "a@", "a..b@evil.example", "a b@evil.example",
             "user@192.0.2.1", "x" * 65 + "@evil.example", "a@@evil.example"])
def test_not_an_email(text: str) -> None:
    with pytest.raises(InvalidIndicator):
        normalize(text, "email")


def test_email_lookup_is_exact_and_case_insensitive() -> None:
    from trapline.index import IndicatorRecord, build_memory_snapshot

    snapshot = build_memory_snapshot([IndicatorRecord(value="Phisher@Evil.example", feed="f",
                                                      category="c")])
    assert [m.how for m in snapshot.lookup("phisher@EVIL.example").matches] == ["exact"]
    assert not snapshot.lookup("other@evil.example").matches
    assert not snapshot.lookup("evil.example").matches
