"""CSRF: the token and the origin check refuse cross-site state changes and allow our own."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trapline.security.csrf import (
    check_origin,
    check_request,
    csrf_token,
    is_safe_method,
    normalize_origin,
)
from trapline.security.sessions import new_session

T0 = 1_800_000_000.0
OWN = "https://trapline.example"
ALLOWED = [OWN, "siem.example:8443"]
SESSION = new_session("alice", "default", "Analyst", now=T0)
OTHER = new_session("alice", "default", "Analyst", now=T0)


def post(headers: dict[str, str], *, session=SESSION, form_token: str | None = None,
         now: float = T0 + 10, method: str = "POST"):
    return check_request(method, headers, session, ALLOWED, form_token=form_token, now=now)


def valid(**extra: str) -> dict[str, str]:
    return {"Origin": OWN, "X-CSRF-Token": csrf_token(SESSION, now=T0), **extra}


def test_same_origin_with_a_valid_token_is_allowed() -> None:
    decision = post(valid())
    assert decision.allowed and decision
    assert "valid" in decision.reason


def test_the_token_may_come_from_the_form() -> None:
    assert post({"Origin": OWN}, form_token=csrf_token(SESSION, now=T0)).allowed


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "post", "PROPFIND"])
def test_every_unsafe_method_needs_the_token(method: str) -> None:
    assert not post({"Origin": OWN}, method=method).allowed
    assert post(valid(), method=method).allowed


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "TRACE", "get"])
def test_safe_methods_need_nothing(method: str) -> None:
    assert is_safe_method(method)
    assert post({"Origin": "https://evil.example"}, method=method).allowed


def test_a_missing_token_is_refused() -> None:
    decision = post({"Origin": OWN})
    assert not decision and decision.reason == "missing CSRF token"
    assert not post({"Origin": OWN, "X-CSRF-Token": ""}).allowed


def test_a_wrong_token_is_refused() -> None:
    token = csrf_token(SESSION, now=T0)
    issued, mac = token.split(".")
    flipped = mac[:-2] + ("AA" if mac[-2:] != "AA" else "BB")
    for wrong in (f"{issued}.{flipped}", f"{int(issued, 16) + 1:x}.{mac}", f"{issued}.x"):
        decision = post({"Origin": OWN, "X-CSRF-Token": wrong})
        assert not decision.allowed, wrong
        assert "does not belong" in decision.reason


@pytest.mark.parametrize("malformed", ["nodot", ".abc", "zz.abc", "-1.abc", "5.",
                                       "1." + "a" * 200])
def test_a_malformed_token_is_refused(malformed: str) -> None:
    decision = post({"Origin": OWN, "X-CSRF-Token": malformed})
    assert not decision.allowed and "malformed" in decision.reason


def test_an_expired_token_is_refused() -> None:
    assert post(valid(), now=T0 + 12 * 3600).allowed
    decision = post(valid(), now=T0 + 12 * 3600 + 1)
    assert not decision.allowed and "expired" in decision.reason


def test_a_token_from_the_future_is_refused() -> None:
    token = csrf_token(SESSION, now=T0 + 3600)
    assert not post({"Origin": OWN, "X-CSRF-Token": token}).allowed


def test_another_session_s_token_is_refused() -> None:
    token = csrf_token(OTHER, now=T0)
    decision = post({"Origin": OWN, "X-CSRF-Token": token})
    assert not decision.allowed and "does not belong" in decision.reason


@pytest.mark.parametrize("origin", [
    "https://evil.example",
    "http://trapline.example",          # same host, other scheme
    "https://trapline.example:8443",    # same host, other port
    "https://trapline.example.evil.example",
    "https://siem.example",             # allowed only on port 8443
    "garbage",
    "trapline.example",                 # no scheme: not an origin
    "https://trapline.example.",
])
def test_a_cross_origin_request_is_refused_even_with_a_valid_token(origin: str) -> None:
    decision = post(valid(Origin=origin))
    assert not decision.allowed and "cross-origin" in decision.reason


def test_an_unparsable_allowed_entry_allows_no_unparsable_origin() -> None:
    token = csrf_token(SESSION, now=T0)
    decision = check_request("POST", {"Origin": "garbage", "X-CSRF-Token": token}, SESSION,
                             [OWN, "https://bad:port"], now=T0)
    assert not decision.allowed


def test_origin_null_is_refused() -> None:
    decision = post(valid(Origin="null"))
    assert not decision.allowed and "null" in decision.reason


def test_allowed_hosts_and_equivalent_spellings_pass() -> None:
    for origin in ("https://siem.example:8443", "HTTPS://TrapLine.Example",
                   "https://trapline.example:443"):
        assert post(valid(Origin=origin)).allowed, origin


def test_without_origin_the_referer_decides() -> None:
    token = csrf_token(SESSION, now=T0)
    good = {"Referer": "https://trapline.example/ui/indicators?x=1", "X-CSRF-Token": token}
    assert post(good).allowed
    for bad in ("https://evil.example/trapline.example/", "/ui/relative", "",
                "https://trapline.example@evil.example/"):
        decision = post({"Referer": bad, "X-CSRF-Token": token})
        assert not decision.allowed, bad
        assert "Referer" in decision.reason


def test_without_origin_or_referer_it_is_refused() -> None:
    decision = post({"X-CSRF-Token": csrf_token(SESSION, now=T0)})
    assert not decision.allowed and decision.reason == "no Origin or Referer header"


def test_header_names_are_case_insensitive() -> None:
    headers = {"origin": OWN, "x-csrf-token": csrf_token(SESSION, now=T0)}
    assert post(headers).allowed


def test_check_origin_alone_for_the_login_form() -> None:
    assert check_origin("POST", {"Origin": OWN}, ALLOWED).allowed
    assert not check_origin("POST", {"Origin": "https://evil.example"}, ALLOWED).allowed
    assert not check_origin("POST", {}, ALLOWED).allowed
    assert check_origin("GET", {}, ALLOWED).allowed


def test_normalize_origin() -> None:
    assert normalize_origin("https://Example.COM:443/path?q") == "https://example.com"
    assert normalize_origin("http://example.com:80") == "http://example.com"
    assert normalize_origin("http://example.com:8080") == "http://example.com:8080"
    assert normalize_origin("siem.example") is None  # a header must name its scheme
    assert normalize_origin("https://[2001:db8::1]:8443") == "https://[2001:db8::1]:8443"
    for bad in ("ftp://example.com", "https://", "https://example.com:99999", "null", ""):
        assert normalize_origin(bad) is None, bad


@given(st.text(max_size=80))
def test_no_arbitrary_text_is_a_valid_token(token: str) -> None:
    assert not post({"Origin": OWN, "X-CSRF-Token": token}).allowed
