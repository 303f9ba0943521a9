"""The fast path for common vendor masks gives exactly what the general path gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from trapline.indicators import refang
from trapline.indicators.masks import _simple_mask, parsed_mask

LABEL = st.text("abcxyzABC0129-_", min_size=1, max_size=6)
TLD = st.text("abcxyzXN", min_size=1, max_size=4).filter(lambda t: t[0].isalpha())
SEGMENT = st.text("abcxyzAB019_~.!$&'()+,;=:@-", max_size=5)


@st.composite
def vendor_masks(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["", "http://", "https://"]))
    host = ".".join(draw(st.lists(LABEL, min_size=1, max_size=3))) + "." + draw(TLD)
    www = draw(st.sampled_from(["", "www.", "*."]))
    port = draw(st.sampled_from(["", ":8080"]))
    path = "".join("/" + s for s in draw(st.lists(SEGMENT, max_size=3)))
    tail = draw(st.sampled_from(["/*", "?*", "", "/"]))
    return scheme + www + host + port + path + tail


@settings(max_examples=500)
@given(vendor_masks())
def test_fast_path_agrees_with_general_path(mask: str) -> None:
    fast = _simple_mask(refang(mask).lower())
    if fast is not None:
        assert fast == parsed_mask(mask)


def test_fast_path_takes_the_common_shapes() -> None:
    for mask in ("*.evil.example", "evil.example/dir/*", "evil.example/x.php?*",
                 "http://www.evil.example/a/b/*", "*.evil.example/*"):
        assert _simple_mask(mask) is not None, mask
    for mask in ("ev?l.example/*", "evil.example/a%20/*", "evil.example/a/../*",
                 "*.xn--e1aybc.xn--p1ai", "evil.example//a/*", "1.2.3.4/*"):
        assert _simple_mask(mask) is None, mask


# What follows the host in a canonical URL: nothing, a path or a query.
REST = st.one_of(st.just(""), st.text("ab/?.[]*x", max_size=8).map(lambda r: "/" + r),
                 st.text("ab/?.[]*x", max_size=8).map(lambda r: "?" + r))


@settings(max_examples=2000)
@given(st.sampled_from(["", "/a", "/a/b", "/a[?]b", "/x.php", "/[[]x]", "/[*]"]),
       st.sampled_from(["/*", "[?]*"]), REST)
def test_prefix_masks_agree_with_their_regex(prefix: str, tail: str, url_rest: str) -> None:
    """Folder and script masks are tested by prefix; the regex is the reference."""
    from trapline.indicators.masks import compile_pattern, rest_matches

    pattern = prefix + tail
    if tail == "[?]*" and not prefix:
        pattern = "/" + pattern
    expected = compile_pattern(pattern).fullmatch(url_rest) is not None
    assert rest_matches(pattern, url_rest) == expected
