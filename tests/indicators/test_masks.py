"""URL masks and STIX ``LIKE`` patterns (docs/matching.md, *URL masks*).

Every row of the spec's shape table, must-not-match near misses included, is checked
twice: with ``mask_matches`` on the canonical URL, and through a snapshot lookup.
"""

from __future__ import annotations

import pytest

from trapline.index import IndicatorRecord, build_memory_snapshot
from trapline.indicators import (
    Indicator,
    InvalidIndicator,
    Kind,
    canonical_mask,
    canonical_url,
    normalize,
)
from trapline.indicators.masks import HostMode, from_like, mask_matches

# (mask, canonical text, mode, matches, must not match)
SHAPES = [
    pytest.param(
        "*.evil.example",
        "*.evil.example",
        HostMode.SUBDOMAIN,
        ["a.evil.example", "http://x.y.evil.example/any/path?q", "A.EVIL.example/x"],
        ["evil.example", "notevil.example", "evil.example.org", "http://evil.example/a"],
        id="domain-mask",
    ),
    pytest.param(
        "host.example/dir/*",
        "host.example/dir/*",
        HostMode.EXACT,
        [
            "host.example/dir",
            "host.example/dir/",
            "host.example/dir/a/b",
            "host.example/dir?x=1",
            "http://www.host.example/dir/a",
            "https://host.example:8443/DIR/a",
        ],
        ["host.example/dirx", "host.example/dir2/a", "sub.host.example/dir/a", "host.example"],
        id="folder-mask",
    ),
    pytest.param(
        "host.example/x.php?*",
        "host.example/x.php[?]*",
        HostMode.EXACT,
        ["host.example/x.php?id=1", "host.example/x.php", "host.example/x.php?"],
        ["host.example/x.phpx", "host.example/x.php5?a=1", "host.example/x.php/a"],
        id="script-mask",
    ),
    pytest.param(
        "host.example/*/login.php",
        "host.example/*/login.php",
        HostMode.EXACT,
        ["host.example/a/login.php", "host.example/a/b/login.php"],
        ["host.example/login.php", "host.example/a/login.phpx", "other.example/a/login.php"],
        id="general-wildcard",
    ),
    pytest.param(
        "ev?l.example/*",
        "ev?l.example/*",
        HostMode.PATTERN,
        ["evil.example/x", "ev1l.example", "http://evAl.example/a?b"],
        ["eviil.example/x", "evl.example/x", "evil.example.org/x"],
        id="one-character-host",
    ),
    pytest.param(
        "host.example/a?c/*",
        "host.example/a[?]c/*",
        HostMode.EXACT,
        ["host.example/a?c/x", "host.example/a?c/x/y"],
        ["host.example/abc/x", "host.example/a/c/x", "host.example/a?d/x"],
        id="query-separator",
    ),
    pytest.param(
        "*evil*.example/*",
        "*evil*.example/*",
        HostMode.PATTERN,
        ["myevilhost.example/a", "evil.example", "a.evil.example/x"],
        ["evil.example.org/a", "good.example/evil"],
        id="host-pattern",
    ),
    pytest.param(
        "*.www.evil.example",
        "*.www.evil.example",
        HostMode.SUBDOMAIN,
        ["a.www.evil.example", "http://b.a.www.evil.example/x"],
        ["www.evil.example", "a.evil.example", "evil.example"],
        id="domain-mask-keeps-www",
    ),
    pytest.param(
        "www.host.example/dir/*",
        "host.example/dir/*",
        HostMode.EXACT,
        ["host.example/dir/a", "http://www.host.example/dir/a"],
        ["host.example/other"],
        id="literal-host-loses-www",
    ),
    pytest.param(
        "host.example/*.exe",
        "host.example/*.exe",
        HostMode.EXACT,
        ["host.example/a.exe", "host.example/a/b.exe", "host.example/.exe"],
        ["host.example/a.exe?x=1", "host.example/a.exex"],
        id="suffix-wildcard",
    ),
    pytest.param(
        "host.example/a?b?*",
        "host.example/a[?]b?*",
        HostMode.EXACT,
        ["host.example/a?bc", "host.example/a?bcdef"],
        ["host.example/a?b", "host.example/axbc"],
        id="second-question-mark-is-one-character",
    ),
]


def _split(url: str) -> tuple[str, str]:
    parsed = canonical_url(url)
    return parsed.host, parsed.value[len(parsed.host) :]


@pytest.mark.parametrize(("mask", "text", "mode", "yes", "no"), SHAPES)
def test_mask_shape_canonical(mask: str, text: str, mode: str, yes: list, no: list) -> None:
    shape = canonical_mask(mask)
    assert (shape.text, shape.mode) == (text, mode)
    assert normalize(mask) == (Kind.URL_MASK, text)
    # canonical text read back as a mask gives itself
    assert canonical_mask(shape.text) == shape
    assert normalize(shape.text, Kind.URL_MASK) == (Kind.URL_MASK, text)


@pytest.mark.parametrize(("mask", "text", "mode", "yes", "no"), SHAPES)
def test_mask_matches(mask: str, text: str, mode: str, yes: list, no: list) -> None:
    shape = canonical_mask(mask)
    for url in yes:
        assert mask_matches(shape, *_split(url)), f"{mask} should match {url}"
    for url in no:
        assert not mask_matches(shape, *_split(url)), f"{mask} must not match {url}"


@pytest.mark.parametrize(("mask", "text", "mode", "yes", "no"), SHAPES)
def test_mask_lookup(mask: str, text: str, mode: str, yes: list, no: list) -> None:
    snapshot = build_memory_snapshot([IndicatorRecord(value=mask, feed="masks")], version=3)
    expected_how = "domain-mask" if mode == HostMode.SUBDOMAIN else "url-mask"
    for url in yes:
        verdict = snapshot.lookup(url)
        assert [(m.how, m.pattern, m.via) for m in verdict.matches] == [
            (expected_how, text, "")
        ], f"{mask} should match {url}"
        assert verdict.matches[0].explain() == f"{expected_how} {text}"
        assert verdict.snapshot == 3
    for url in no:
        assert snapshot.lookup(url).matches == [], f"{mask} must not match {url}"


@pytest.mark.parametrize(
    ("mask", "text"),
    [
        ("HTTP://User:pw@WWW.Host.Example:8080/Dir/%41/*", "host.example/dir/a/*"),
        ("hxxp://host[.]example/dir/*", "host.example/dir/*"),
        ("host.example//a/./b/../c/*", "host.example/a/c/*"),
        ("host.example\\dir\\*", "host.example/dir/*"),
        ("*.evil.example/*", "*.evil.example"),  # /* after a host pattern is dropped
        ("*.EVIL.Example.", "*.evil.example"),
        ("*.тест.рф", "*.xn--e1aybc.xn--p1ai"),
        ("host.example/X.PHP?ID=*", "host.example/x.php[?]id=*"),
        ("host.example/x.php?q=%41*", "host.example/x.php[?]q=a*"),
    ],
)
def test_mask_canonicalized_by_url_rules(mask: str, text: str) -> None:
    assert canonical_mask(mask).text == text
    assert canonical_mask(text).text == text


def test_literal_bracket_is_written_bracketed() -> None:
    # A literal '[' in a mask is written '[[]' in canonical text, and matches only '['.
    shape = canonical_mask("host.example/[x]/*")
    assert shape.text == "host.example/[[]x]/*"
    assert mask_matches(shape, *_split("host.example/[x]/a"))
    assert not mask_matches(shape, *_split("host.example/x/a"))


def test_literal_bracket_lookup() -> None:
    snapshot = build_memory_snapshot([IndicatorRecord(value="host.example/[x]/*")])
    assert snapshot.lookup("http://host.example/[x]/a").detected
    assert not snapshot.lookup("http://host.example/x/a").detected


@pytest.mark.parametrize(
    "value",
    [
        "host.example/x.php?id=1",  # literal host and no wildcard: a URL
        "host.example/a?b",
    ],
)
def test_no_wildcard_is_a_url_not_a_mask(value: str) -> None:
    assert normalize(value).kind is Kind.URL
    with pytest.raises(InvalidIndicator):
        canonical_mask(value)


@pytest.mark.parametrize("value", ["*.1.2.3.4", "", "host.example/dir/x", "*.[::1]"])
def test_invalid_masks(value: str) -> None:
    with pytest.raises(InvalidIndicator):
        canonical_mask(value)


def test_mask_lookup_of_the_mask_itself_is_exact() -> None:
    snapshot = build_memory_snapshot(
        [IndicatorRecord(value=v) for v in ("*.evil.example", "host.example/dir/*", "*evil*.x")]
    )
    for mask in ("*.evil.example", "*evil*.x/*"):
        verdict = snapshot.lookup(mask)
        assert [(m.how, m.pattern) for m in verdict.matches] == [("exact", mask)]
    assert snapshot.lookup("*.other.example").matches == []


def test_observed_url_with_a_star_is_a_url_not_a_mask() -> None:
    """No observed host has a '*': with a literal host, '*' is a character of the URL."""
    snapshot = build_memory_snapshot([IndicatorRecord(value="host.example/dir/*")])
    verdict = snapshot.lookup("http://host.example/dir/a*")
    assert verdict.indicator == Indicator(Kind.URL, "host.example/dir/a*")
    assert [(m.how, m.pattern) for m in verdict.matches] == [("url-mask", "host.example/dir/*")]
    assert [m.how for m in snapshot.lookup("host.example/dir/*").matches] == ["url-mask"]
    assert snapshot.lookup("http://host.example/dirx/a*").matches == []


def test_several_masks_on_one_host() -> None:
    masks = ["host.example/dir/*", "host.example/x.php?*", "host.example/*/login.php"]
    snapshot = build_memory_snapshot([IndicatorRecord(value=m) for m in masks])
    assert [m.pattern for m in snapshot.lookup("host.example/dir/login.php").matches] == [
        "host.example/dir/*",
        "host.example/*/login.php",
    ] or sorted(m.pattern for m in snapshot.lookup("host.example/dir/login.php").matches) == [
        "host.example/*/login.php",
        "host.example/dir/*",
    ]
    assert [m.pattern for m in snapshot.lookup("host.example/x.php?a=1").matches] == [
        "host.example/x.php[?]*"
    ]


# -- STIX / TAXII LIKE patterns ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("like", "text"),
    [
        ("abid-sh84.github.io/netflixclone/%", "abid-sh84.github.io/netflixclone/*"),  # spec
        ("evil.example/x.php?id=_", "evil.example/x.php[?]id=?"),  # spec: literal ?, one char
        ("%.evil.example", "*.evil.example"),
        ("evil.example/%", "evil.example/*"),
        ("evil.example/a_c/%", "evil.example/a?c/*"),  # _ is one character
        ("evil.example/a\\_c/%", "evil.example/a_c/*"),  # \_ is a literal _
        ("evil.example/100\\%/%", "evil.example/100%/*"),  # \% is a literal %
        ("evil.example/a*b/%", "evil.example/a[*]b/*"),  # * is literal in LIKE
        ("evil.example/x?a?b%", "evil.example/x[?]a[?]b*"),  # every ? is literal
        ("evil.example/a[b/%", "evil.example/a[[]b/*"),  # [ is written [[]
        ("EVIL.example/A/%", "evil.example/a/*"),
    ],
)
def test_like_translation(like: str, text: str) -> None:
    assert canonical_mask(like, like=True).text == text


@pytest.mark.parametrize(
    ("like", "raw"),
    [
        ("%", "*"),
        ("_", "?"),
        ("\\%", "%"),
        ("\\_", "_"),
        ("\\\\", "\\"),
        ("?", "[?]"),
        ("*", "[*]"),
        ("[", "[[]"),
        ("a%b_c", "a*b?c"),
    ],
)
def test_from_like(like: str, raw: str) -> None:
    assert from_like(like) == raw


@pytest.mark.parametrize(
    ("like", "yes", "no"),
    [
        (
            "abid-sh84.github.io/netflixclone/%",
            ["abid-sh84.github.io/netflixclone/index.html", "abid-sh84.github.io/netflixclone"],
            ["abid-sh84.github.io/netflixclonex", "other.github.io/netflixclone/a"],
        ),
        (
            "evil.example/x.php?id=_",
            ["evil.example/x.php?id=1", "evil.example/x.php?id=z"],
            ["evil.example/x.php?id=12", "evil.example/x.php?id=", "evil.example/x.phpxid=1"],
        ),
        (
            "evil.example/a*b/%",
            ["evil.example/a*b/c"],
            ["evil.example/axxb/c", "evil.example/ab/c"],
        ),
        (
            "evil.example/a\\_c/%",
            ["evil.example/a_c/x"],
            ["evil.example/abc/x"],
        ),
    ],
)
def test_like_matching(like: str, yes: list[str], no: list[str]) -> None:
    shape = canonical_mask(like, like=True)
    snapshot = build_memory_snapshot([IndicatorRecord(value=shape.text, kind="url-mask")])
    for url in yes:
        assert mask_matches(shape, *_split(url)), f"{like} should match {url}"
        # looked up as a URL: a bare value with '*' would be read as a mask
        observable = normalize(url, Kind.URL)
        assert [m.pattern for m in snapshot.lookup(observable).matches] == [shape.text]
    for url in no:
        assert not mask_matches(shape, *_split(url)), f"{like} must not match {url}"
        assert snapshot.lookup(normalize(url, Kind.URL)).matches == []


def test_mask_dot_segments_are_removed_before_matching() -> None:
    # The URL host.example/a/../b/x is canonical host.example/b/x; a mask written with the
    # same dot segments must be canonicalized the same way to meet it.
    snapshot = build_memory_snapshot([IndicatorRecord(value="host.example/a/../b/*")])
    assert snapshot.lookup("http://host.example/b/x").detected
    assert snapshot.lookup("http://host.example/a/../b/x").detected


@pytest.mark.parametrize(
    "mask",
    [
        "host.example/a*%20",  # a trailing space
        "host.example/a* /",
        "host.example/x?q=a*%20",
        "host.example/a*%C2%85",  # a trailing control character (U+0085)
        "host.example/a*%0A",
        "host.example/a*%2541",
        "host.example/a*%23",
    ],
)
def test_mask_canonical_text_is_a_fixed_point(mask: str) -> None:
    # Masks are canonicalized by the URL rules, which escape again whatever a second
    # parse would read differently (control characters, '#', '%XX', trailing spaces).
    once = normalize(mask)
    assert once.kind is Kind.URL_MASK
    assert normalize(once.value, Kind.URL_MASK) == once
    assert normalize(once.value) == once


@pytest.mark.parametrize(
    ("mask", "url"),
    [
        ("host.example/a*%20", "http://host.example/ab%20"),
        ("host.example/a*%2541", "http://host.example/ab%2541"),
        ("host.example/a*%23x", "http://host.example/ab%23x"),
        ("host.example/a*%0A", "http://host.example/ab%0a"),
    ],
)
def test_mask_with_escaped_characters_matches_the_canonical_url(mask: str, url: str) -> None:
    snapshot = build_memory_snapshot([IndicatorRecord(value=mask)])
    assert [m.how for m in snapshot.lookup(url).matches] == ["url-mask"]
    assert mask_matches(canonical_mask(mask), *_split(url))


@pytest.mark.parametrize(
    ("mask", "text"),
    [
        ("host.example/c%2Ad/*", "host.example/c[*]d/*"),  # an escaped * is a literal *
        # An escaped ? in a path stays escaped, as in canonical URLs.
        ("host.example/a%3Fb/*", "host.example/a%3fb/*"),
        ("host.example/x?q=%2A*", "host.example/x[?]q=[*]*"),
        ("host.example/x?q=%3F*", "host.example/x[?]q=[?]*"),
        ("host.example/a%5B/*", "host.example/a[[]/*"),
    ],
)
def test_escaped_wildcard_characters_stay_literal(mask: str, text: str) -> None:
    assert canonical_mask(mask).text == text
    assert canonical_mask(text).text == text


@pytest.mark.parametrize(
    ("mask", "yes", "no"),
    [
        ("host.example/c%2Ad/*", "http://host.example/c%2Ad/e", "http://host.example/cxxd/e"),
        ("host.example/a%3Fb/*", "http://host.example/a%3Fb/c", "http://host.example/axb/c"),
        ("host.example/x?q=%2A*", "http://host.example/x?q=%2Az", "http://host.example/x?q=yz"),
    ],
)
def test_escaped_wildcard_characters_near_misses(mask: str, yes: str, no: str) -> None:
    snapshot = build_memory_snapshot([IndicatorRecord(value=mask)])
    assert [m.how for m in snapshot.lookup(normalize(yes, Kind.URL)).matches] == ["url-mask"]
    assert snapshot.lookup(normalize(no, Kind.URL)).matches == [], f"{mask} must not match {no}"
