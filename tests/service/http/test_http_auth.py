"""Basic authentication: header parsing, and successes remembered for a while."""

from __future__ import annotations

import asyncio
import base64

import pytest
from http_unit import USERS, authenticate

from trapline.security.roles import Principal
from trapline.service.http.auth import MAX_CACHED, BasicAuth, basic_credentials


def header(user: str, password: str, encoding: str = "utf-8") -> bytes:
    return b"Basic " + base64.b64encode(f"{user}:{password}".encode(encoding))


@pytest.mark.parametrize(("value", "expected"), [
    (header("kuma", "pa:ss"), ("kuma", "pa:ss")),          # the password may hold colons
    (header("kuma", ""), ("kuma", "")),
    (b"basic " + base64.b64encode(b"u:p"), ("u", "p")),     # the scheme is case-insensitive
    (header("jürgen", "pässword"), ("jürgen", "pässword")),
    (header("jürgen", "pässword", "latin-1"), ("jürgen", "pässword")),
    (b"Basic", None),
    (b"Basic !!!", None),
    (b"Bearer " + base64.b64encode(b"u:p"), None),
    (b"Basic " + base64.b64encode(b"no colon"), None),
])
def test_basic_credentials(value: bytes, expected: tuple[str, str] | None) -> None:
    assert basic_credentials(value) == expected


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_success_is_remembered_for_ttl_and_failures_never() -> None:
    calls: list[str] = []

    def counting(user: str, password: str) -> Principal | None:
        calls.append(user)
        return authenticate(user, password)

    clock = Clock()
    auth = BasicAuth(counting, ttl=60, clock=clock)
    good, bad = header("kuma", "kuma-secret"), header("kuma", "wrong")

    async def run() -> list[Principal | None]:
        return [await auth.check(h) for h in (good, good, bad, bad, None, b"")]

    found = asyncio.run(run())
    assert found == [USERS["kuma"][1], USERS["kuma"][1], None, None, None, None]
    assert calls == ["kuma", "kuma", "kuma"]  # one success, two failures
    clock.now += 61
    asyncio.run(auth.check(good))
    assert len(calls) == 4
    auth.clear()
    asyncio.run(auth.check(good))
    assert len(calls) == 5
    assert all(b"kuma-secret" not in key for key in auth.cache)


def test_the_cache_is_bounded() -> None:
    def anyone(user: str, password: str) -> Principal:
        return Principal(name=user, role="Analyst", tenant="General", via="password")

    clock = Clock()
    auth = BasicAuth(anyone, ttl=60, clock=clock)

    async def run() -> None:
        for i in range(MAX_CACHED + 10):
            await auth.check(header(f"user{i}", "x"))

    asyncio.run(run())
    assert len(auth.cache) == MAX_CACHED


def test_the_authenticator_runs_off_the_event_loop() -> None:
    seen: list[bool] = []

    def probe(user: str, password: str) -> None:
        try:
            asyncio.get_running_loop()
            seen.append(True)
        except RuntimeError:
            seen.append(False)

    asyncio.run(BasicAuth(probe).check(header("u", "p")))
    assert seen == [False]
