"""Login limits on every password check: Basic on the API and the lookups, the login form.

A parallel burst of wrong passwords lets no more than the allowed number reach
the (slow) verification; the rest are answered 429 with Retry-After at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_env import ORIGIN, PASSWORD, ApiEnv, run

from trapline.security import passwords
from trapline.security.login_limiter import LoginLimits
from trapline.store import SYSTEM

LIMITS = LoginLimits(account_failures=5, address_failures=20)


@pytest.fixture
def limited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ApiEnv, list[str]]]:
    api = ApiEnv.create(tmp_path, limits=LIMITS)
    verified: list[str] = []
    real = passwords.verify_password

    def counting(stored: str, password: str) -> bool:
        verified.append(password)
        return real(stored, password)

    monkeypatch.setattr(passwords, "verify_password", counting)
    yield api, verified
    api.close()


def test_a_parallel_burst_of_wrong_basic_passwords(limited: tuple[ApiEnv, list[str]]) -> None:
    env, verified = limited

    async def go() -> list[httpx.Response]:
        async with env.client() as client:
            burst = [client.get("/api/v1/session", headers=env.basic("alice", f"guess-{i}"))
                     for i in range(50)]
            answers = await asyncio.gather(*burst)
            # Locked now: even the right password is refused, without a verification.
            answers.append(await client.get("/api/v1/session", headers=env.basic("alice")))
            answers.append(await client.post("/api/1.1/lookup", headers=env.basic("alice"),
                                             json=[{"object": "192.0.2.1"}]))
            return answers

    answers = run(go())
    statuses = [a.status_code for a in answers]
    assert len(verified) <= LIMITS.account_failures
    assert statuses.count(401) == len(verified)
    assert statuses.count(429) == len(answers) - len(verified)
    assert statuses[-2:] == [429, 429]
    for answer in answers:
        if answer.status_code == 429:
            assert int(answer.headers["retry-after"]) >= 1
            assert answer.json()[0]["status"] == "error"
    assert "too many failed logins" in answers[-1].json()[0]["reason"]
    # An administrator lifts the lock with a new password.
    async def reset() -> int:
        async with env.client("192.0.2.99") as client:
            response = await client.patch("/api/v1/users/alice", headers=env.basic("root"),
                                          json={"password": "a new secret"})
            assert response.status_code == 200
            return (await client.get("/api/v1/session",
                                     headers=env.basic("alice", "a new secret"))).status_code

    assert run(reset()) == 200


def test_the_bare_lookup_and_the_login_form_count_too(limited: tuple[ApiEnv, list[str]]
                                                       ) -> None:
    env, verified = limited

    async def go() -> list[int]:
        async with env.client() as client:
            statuses = []
            for i in range(4):
                response = await client.post("/api/1.1/lookup", json=[{"object": "x.test"}],
                                             headers=env.basic("bob", f"wrong-{i}"))
                statuses.append(response.status_code)
            for i in range(3):
                response = await client.post("/api/v1/session", headers={"Origin": ORIGIN},
                                             json={"user": "bob", "password": f"no-{i}"})
                statuses.append(response.status_code)
            return statuses

    assert run(go()) == [401, 401, 401, 401, 401, 429, 429]
    assert len(verified) == 5


def test_unknown_and_disabled_users_cost_a_verification_and_count(
        limited: tuple[ApiEnv, list[str]]) -> None:
    env, verified = limited
    env.store.users.update(SYSTEM, "dave", disabled=True)

    async def go() -> list[int]:
        async with env.client() as client:
            statuses = []
            for user in ("nobody", "dave"):
                response = await client.get("/api/v1/session", headers=env.basic(user))
                statuses.append(response.status_code)
            return statuses

    assert run(go()) == [401, 401]
    assert verified == [PASSWORD, PASSWORD]  # the unknown user's is the dummy verification
    assert "wrong user name" in run(_whoami(env, "nobody")).json()[0]["reason"]


async def _whoami(env: ApiEnv, user: str) -> httpx.Response:
    async with env.client("192.0.2.50") as client:
        return await client.get("/api/v1/session", headers=env.basic(user))
