"""The fast path for plain ASCII URLs gives exactly what the parser path gives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from trapline.indicators import refang
from trapline.indicators.url import _simple_url, parsed_url

LABEL = st.text("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789-_", min_size=1, max_size=8)
TLD = st.text("abcdefghijklmnopqrstuvwxyzXN", min_size=1, max_size=5).filter(
    lambda t: t[0].isalpha())
SEGMENT = st.text("abcxyzABCXYZ0129_~.!$&'()*+,;=:@-", max_size=6)
QUERY = st.text("abcxyzABC019_~.!$&'()*+,;=:@/?-", max_size=10)


@st.composite
def ascii_urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["", "http://", "HTTPS://", "ftp://", "hTTp://"]))
    www = draw(st.sampled_from(["", "www.", "WWW."]))
    host = ".".join(draw(st.lists(LABEL, min_size=1, max_size=3))) + "." + draw(TLD)
    port = draw(st.sampled_from(["", ":80", ":8080"]))
    path = "".join("/" + s for s in draw(st.lists(SEGMENT, max_size=4)))
    query = draw(st.one_of(st.just(""), QUERY.map(lambda q: "?" + q)))
    return scheme + www + host + port + path + query


@given(ascii_urls())
def test_fast_path_agrees_with_parser(url: str) -> None:
    fast = _simple_url(refang(url).lower())
    if fast is not None:
        assert fast == parsed_url(refang(url))


def test_fast_path_takes_the_common_shapes() -> None:
    for url in ("http://evil.example/a/b.php?id=1", "EVIL.example/Path", "www.a.example"):
        assert _simple_url(url.lower()) is not None
    for url in ("http://evil.example/a%20b", "http://1.2.3.4/", "http://xn--e1aybc.xn--p1ai/",
                "http://a.example/./x", "http://a.example//x"):
        assert _simple_url(url.lower()) is None
