"""Password hashes: right and wrong passwords, malformed hashes, rehash, the async wrappers."""

from __future__ import annotations

import asyncio
import time

import argon2
import pytest

from trapline.security import passwords
from trapline.security.passwords import (
    PasswordRejected,
    dummy_verify,
    generate_password,
    hash_password,
    hash_password_async,
    needs_rehash,
    verify_password,
    verify_password_async,
)

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_password(PASSWORD)


def test_the_right_password_verifies(stored: str) -> None:
    assert stored.startswith("$argon2id$v=19$m=32768,t=3,p=1$")
    assert verify_password(stored, PASSWORD) is True


def test_a_wrong_password_is_false(stored: str) -> None:
    assert verify_password(stored, PASSWORD + " ") is False
    assert verify_password(stored, PASSWORD.upper()) is False
    assert verify_password(stored, "") is False


def test_two_hashes_of_one_password_differ_by_their_salt() -> None:
    first, second = hash_password("same"), hash_password("same")
    assert first != second
    assert verify_password(first, "same") and verify_password(second, "same")


@pytest.mark.parametrize("malformed", [
    "",
    "not a hash",
    "$argon2id$",
    "$argon2id$v=19$m=32768,t=3,p=1$c2FsdA$",
    "$argon2id$v=19$m=32768,t=3,p=1$!!!$!!!",
    "$2b$12$abcdefghijklmnopqrstuuJ4i0E3iWCbX9bbzdrLe2o8C6cVPGqrW",  # bcrypt
    "$argon2id$v=19$m=4294967295,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",  # 4 TiB
    "$argon2id$v=19$m=32768,t=1000000,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
    None,
    12345,
])
def test_a_malformed_stored_hash_is_false_not_an_exception(malformed: object) -> None:
    started = time.perf_counter()
    assert verify_password(malformed, PASSWORD) is False  # type: ignore[arg-type]
    assert time.perf_counter() - started < 5


def test_a_non_string_or_huge_password_is_false(stored: str) -> None:
    assert verify_password(stored, None) is False  # type: ignore[arg-type]
    assert verify_password(stored, b"bytes") is False  # type: ignore[arg-type]
    assert verify_password(stored, "x" * (passwords.MAX_PASSWORD_CHARS + 1)) is False


def test_hashing_refuses_empty_and_huge_passwords() -> None:
    for bad in ("", "x" * (passwords.MAX_PASSWORD_CHARS + 1), None):
        with pytest.raises(PasswordRejected):
            hash_password(bad)  # type: ignore[arg-type]


def test_needs_rehash_is_true_for_other_parameters_and_garbage(stored: str) -> None:
    weaker = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    assert needs_rehash(stored) is False
    assert needs_rehash(weaker) is True
    assert verify_password(weaker, PASSWORD) is True  # old hashes keep working
    assert needs_rehash("garbage") is True


def test_dummy_verify_is_false_and_costs_a_real_verification() -> None:
    assert dummy_verify(PASSWORD) is False
    assert dummy_verify("") is False
    assert not needs_rehash(passwords._dummy_hash())  # today's parameters, today's cost
    started = time.perf_counter()
    dummy_verify(PASSWORD)
    assert time.perf_counter() - started > 0.01  # argon2 ran: a no-op takes microseconds


def test_generated_passwords_are_random_and_unambiguous() -> None:
    generated = {generate_password() for _ in range(200)}
    assert len(generated) == 200
    for password in generated:
        assert len(password) == 20
        assert password.isalnum() and password.isascii()
        assert not set(password) & set("0O1lI")
    assert len(generate_password(32)) == 32


def test_async_wrappers_leave_the_event_loop_free(stored: str) -> None:
    async def run() -> tuple[list[bool], int]:
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                await asyncio.sleep(0.002)
                ticks += 1

        async def verify_all() -> list[bool]:
            try:
                return list(await asyncio.gather(
                    verify_password_async(stored, PASSWORD),
                    verify_password_async(stored, "wrong"),
                    verify_password_async("malformed", PASSWORD)))
            finally:
                done.set()

        results, _ = await asyncio.gather(verify_all(), ticker())
        return results, ticks

    results, ticks = asyncio.run(run())
    assert results == [True, False, False]
    # Two verifications take 100 ms or more; run on the loop they would let the
    # ticker tick not once while they ran.
    assert ticks >= 5


def test_hash_password_async_makes_a_verifiable_hash() -> None:
    stored = asyncio.run(hash_password_async("async secret"))
    assert verify_password(stored, "async secret")
