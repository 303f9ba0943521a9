"""Session cookies: round trips, tampering, expiry, other keys; the cookie's attributes."""

from __future__ import annotations

import hashlib
import time

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer

from trapline.errors import ConfigError
from trapline.security.sessions import CookiePolicy, Session, SessionCodec, new_session

KEY = b"k" * 32
T0 = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def codec(clock: Clock, key: bytes = KEY, **kwargs) -> SessionCodec:
    return SessionCodec(key, clock=clock, **kwargs)


def same(a: Session, b: Session) -> bool:
    return msgspec.structs.replace(a, seen=0) == msgspec.structs.replace(b, seen=0)


def test_round_trip() -> None:
    clock = Clock()
    session = new_session("alice", "default", "Analyst", now=T0)
    loaded = codec(clock).loads(codec(clock).dumps(session))
    assert loaded == session
    assert loaded.seen == int(T0)
    assert len(session.csrf_secret) >= 43 and len(session.session_id) >= 22


def test_new_sessions_have_their_own_secrets() -> None:
    a, b = new_session("a", "t", "Analyst"), new_session("a", "t", "Analyst")
    assert a.csrf_secret != b.csrf_secret and a.session_id != b.session_id


text = st.text(min_size=0, max_size=40)
FIXED = Session(user="alice", tenant="default", role="Analyst", csrf_secret="c" * 43,
                session_id="s" * 22, issued_at=int(T0), seen=int(T0))


@given(user=text, tenant=text, role=text, issued=st.integers(0, 12 * 3600 - 1))
def test_round_trip_of_any_text(user: str, tenant: str, role: str, issued: int) -> None:
    clock = Clock()
    session = new_session(user, tenant, role, now=T0 - issued)
    cookie = codec(clock).dumps(session)
    assert set(cookie) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    loaded = codec(clock).loads(cookie)
    assert loaded is not None and same(loaded, session)


@given(data=st.data())
def test_a_tampered_cookie_never_loads_as_another_session(data: st.DataObject) -> None:
    clock = Clock()
    session = FIXED
    cookie = codec(clock).dumps(session)
    position = data.draw(st.integers(0, len(cookie) - 1))
    replacement = data.draw(st.sampled_from("AZaz09-_.=/+ %"))
    tampered = cookie[:position] + replacement + cookie[position + 1:]
    loaded = codec(clock).loads(tampered)
    # Base64's unused low bits can make a change decode to the same bytes: the
    # same session, never another one.
    assert loaded is None or same(loaded, session)


def test_changing_the_role_in_the_payload_breaks_the_signature() -> None:
    clock = Clock()
    cookie = codec(clock).dumps(FIXED)
    forged = URLSafeTimedSerializer(b"x" * 32, salt="trapline.session.v1",
                                    signer_kwargs={"digest_method": hashlib.sha256}).dumps(
        ["alice", "default", "Administrator", FIXED.csrf_secret, FIXED.session_id, int(T0)])
    payload = forged.rsplit(".", 2)[0]
    timestamp_and_signature = cookie.rsplit(".", 2)[1:]
    assert codec(clock).loads(".".join([payload, *timestamp_and_signature])) is None
    assert codec(clock).loads(forged) is None


def test_a_cookie_signed_with_another_key_is_none() -> None:
    clock = Clock()
    cookie = codec(clock, b"other-key-" * 4).dumps(new_session("a", "t", "Analyst", now=T0))
    assert codec(clock).loads(cookie) is None


def test_another_salt_is_none() -> None:
    clock = Clock()
    cookie = codec(clock, salt="csrf").dumps(new_session("a", "t", "Analyst", now=T0))
    assert codec(clock).loads(cookie) is None


def test_key_rotation_keeps_old_cookies_loading() -> None:
    clock = Clock()
    old, new = b"o" * 32, b"n" * 32
    session = new_session("a", "t", "Analyst", now=T0)
    cookie = codec(clock, old).dumps(session)
    rotated = SessionCodec([old, new], clock=clock)
    assert rotated.loads(cookie) == session
    assert codec(clock, new).loads(rotated.dumps(session)) is not None  # signs with the newest


def test_an_idle_session_expires() -> None:
    clock = Clock()
    c = codec(clock, idle_timeout=3600)
    cookie = c.dumps(new_session("a", "t", "Analyst", now=T0))
    clock.now = T0 + 3599
    assert c.loads(cookie) is not None
    clock.now = T0 + 3601
    assert c.loads(cookie) is None


def test_re_signing_slides_the_idle_clock_but_not_the_maximum_age() -> None:
    clock = Clock()
    c = codec(clock, idle_timeout=3600, max_age=12 * 3600)
    session = new_session("a", "t", "Analyst", now=T0)
    cookie = c.dumps(session)
    for _ in range(11):  # active every 59 minutes, refreshed each time
        clock.now += 59 * 60
        loaded = c.loads(cookie)
        assert loaded is not None and c.refresh_due(loaded)
        cookie = c.dumps(loaded)
    clock.now = T0 + 12 * 3600 + 1
    assert c.loads(cookie) is None  # signed under an hour ago, but logged in 12 h ago


def test_refresh_is_due_only_after_a_while() -> None:
    clock = Clock()
    c = codec(clock, idle_timeout=3600)
    loaded = c.loads(c.dumps(new_session("a", "t", "Analyst", now=T0)))
    assert loaded is not None and not c.refresh_due(loaded)
    clock.now += 301
    assert c.refresh_due(loaded)


def test_a_cookie_from_the_future_is_none() -> None:
    clock = Clock()
    cookie = codec(clock).dumps(new_session("a", "t", "Analyst", now=T0 + 3600))
    assert codec(clock).loads(cookie) is None
    clock.now = T0 + 600  # signed "later" than the reader's clock
    assert codec(Clock()).loads(codec(clock).dumps(new_session("a", "t", "Analyst",
                                                               now=T0))) is None


@pytest.mark.parametrize("garbage", [None, "", ".", "a.b.c", "x" * 5000, "é.é.é", 42])
def test_garbage_is_none(garbage: object) -> None:
    assert codec(Clock()).loads(garbage) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("payload", [{"user": "a"}, ["a", "t", "r", "c", "s"],
                                     ["a", "t", "r", "c", "s", "not a time"], "text", None])
def test_a_validly_signed_but_malformed_payload_is_none(payload: object) -> None:
    signed = URLSafeTimedSerializer(KEY, salt="trapline.session.v1",
                                    signer_kwargs={"digest_method": hashlib.sha256}).dumps(payload)
    assert SessionCodec(KEY).loads(signed) is None


def test_the_same_serializer_with_a_good_payload_loads() -> None:
    payload = ["a", "t", "Analyst", "c", "s", int(time.time())]
    signed = URLSafeTimedSerializer(KEY, salt="trapline.session.v1",
                                    signer_kwargs={"digest_method": hashlib.sha256}).dumps(payload)
    assert SessionCodec(KEY).loads(signed) is not None


def test_short_keys_and_bad_timeouts_are_refused() -> None:
    with pytest.raises(ConfigError):
        SessionCodec(b"short")
    with pytest.raises(ConfigError):
        SessionCodec([])
    with pytest.raises(ConfigError):
        SessionCodec(KEY, idle_timeout=13 * 3600, max_age=12 * 3600)


def test_cookie_over_https_is_host_prefixed_secure_httponly_lax() -> None:
    policy = CookiePolicy()
    assert policy.header("abc.def") == (
        "__Host-trapline_session=abc.def; Path=/; Max-Age=43200; HttpOnly; Secure; SameSite=Lax")


def test_cookie_embedded_in_a_third_party_iframe_is_samesite_none_and_partitioned() -> None:
    policy = CookiePolicy(embedded=True, partitioned=True)
    header = policy.header("v")
    assert "SameSite=None" in header and "; Secure" in header and header.endswith("Partitioned")
    assert "HttpOnly" in header


def test_cookie_over_plain_http_is_not_secure() -> None:
    header = CookiePolicy(https=False).header("v")
    assert header.startswith("trapline_session=v;")
    assert "Secure" not in header and "SameSite=Lax" in header and "HttpOnly" in header


def test_embedded_or_partitioned_without_https_is_refused() -> None:
    for options in ({"embedded": True}, {"partitioned": True}):
        with pytest.raises(ConfigError):
            CookiePolicy(https=False, **options)


def test_clear_header_deletes_the_cookie() -> None:
    header = CookiePolicy(path="/ui").clear_header()
    assert header.startswith("__Secure-trapline_session=; Path=/ui; Max-Age=0;")


def test_a_value_that_would_break_the_header_is_refused() -> None:
    for bad in ("a;b", "a b", "a\r\nSet-Cookie: x=y", "é"):
        with pytest.raises(ValueError):
            CookiePolicy().header(bad)
