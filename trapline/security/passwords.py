"""Password hashing: argon2id through argon2-cffi, and random first-start passwords.

Parameters (RFC 9106 argon2id; stronger than OWASP's minimum of 19 MiB and two
passes): ``time_cost=3`` passes over ``memory_cost=32 MiB`` with one lane,
a 16-byte random salt and a 32-byte hash. One verification took about 110 ms
on the project's 2-core build machine (64 MiB/t=3 took 270 ms, 19 MiB/t=2
36 ms); the cost is the point, so it never runs on an event loop: the
``*_async`` functions run it on a small pool of threads (two at most per
process, which bounds the memory of a login flood at 64 MiB), and the login
limiter decides who may spend it. The parameters live in each stored hash, so
old hashes keep verifying after a change; ``needs_rehash`` tells the caller to
store a fresh one at the next successful login.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import argon2
from argon2.exceptions import Argon2Error, InvalidHashError

from trapline.errors import TraplineError

__all__ = [
    "MAX_PASSWORD_CHARS",
    "PasswordRejected",
    "dummy_verify",
    "dummy_verify_async",
    "generate_password",
    "hash_password",
    "hash_password_async",
    "needs_rehash",
    "verify_password",
    "verify_password_async",
]

TIME_COST = 3
MEMORY_COST_KIB = 32 * 1024
PARALLELISM = 1
MAX_PASSWORD_CHARS = 1024  # argon2 takes any length; a cap keeps a megabyte "password" out
HASH_THREADS = 2
# Stored hashes asking for more than this are treated as corrupt, not computed:
# a hash with m=4 TiB would otherwise exhaust the machine.
_MAX_STORED_MEMORY_KIB = 1024 * 1024
_MAX_STORED_TIME_COST = 20
_MAX_STORED_PARALLELISM = 16
# No 0/O, 1/l/I: the first-start password is read off a terminal and typed.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"

T = TypeVar("T")

_HASHER = argon2.PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB,
                                parallelism=PARALLELISM, hash_len=32, salt_len=16,
                                type=argon2.Type.ID)


class PasswordRejected(TraplineError):
    """A password cannot be hashed: empty, too long or not text."""


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (a ``$argon2id$...`` string) to store."""
    if not isinstance(password, str) or not password:
        raise PasswordRejected("a password must be a non-empty string")
    if len(password) > MAX_PASSWORD_CHARS:
        raise PasswordRejected(f"a password has at most {MAX_PASSWORD_CHARS} characters")
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches ``stored_hash``; False for anything else, never raises.

    The comparison inside argon2 is constant-time; a malformed, foreign or
    absurdly expensive stored hash is False, as is a password that is too long.
    """
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_CHARS:
        return False
    if not isinstance(stored_hash, str) or not _reasonable(stored_hash):
        return False
    try:
        return _HASHER.verify(stored_hash, password)
    except (Argon2Error, ValueError, TypeError, MemoryError):  # mismatch, corrupt, unsupported
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when ``stored_hash`` was made with other parameters than today's (or is malformed)."""
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except (InvalidHashError, ValueError, TypeError):
        return True


def dummy_verify(password: str) -> bool:
    """Spend one verification's time and return False: for a login to an unknown account.

    Without it, "no such user" answers faster than "wrong password" and gives
    the account names away.
    """
    verify_password(_dummy_hash(), password)
    return False


def generate_password(length: int = 20) -> str:
    """A random password of ``length`` characters (about 117 bits at 20), easy to type."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


async def hash_password_async(password: str) -> str:
    """``hash_password`` on the hashing threads, so the event loop keeps serving."""
    return await _in_pool(hash_password, password)


async def verify_password_async(stored_hash: str, password: str) -> bool:
    """``verify_password`` on the hashing threads, so the event loop keeps serving."""
    return await _in_pool(verify_password, stored_hash, password)


async def dummy_verify_async(password: str) -> bool:
    """``dummy_verify`` on the hashing threads."""
    return await _in_pool(dummy_verify, password)


def _reasonable(stored_hash: str) -> bool:
    try:
        params = argon2.extract_parameters(stored_hash)
    except (InvalidHashError, ValueError, TypeError):
        return False
    return (params.memory_cost <= _MAX_STORED_MEMORY_KIB
            and params.time_cost <= _MAX_STORED_TIME_COST
            and params.parallelism <= _MAX_STORED_PARALLELISM)


_dummy: str | None = None
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _dummy_hash() -> str:
    global _dummy
    if _dummy is None:
        _dummy = _HASHER.hash(secrets.token_urlsafe(16))
    return _dummy


async def _in_pool(function: Callable[..., T], *args: object) -> T:
    # A pool of its own rather than asyncio.to_thread's default executor: a
    # burst of logins then waits for these threads instead of occupying every
    # thread that database writes and feed parsing need. argon2 releases the GIL.
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(HASH_THREADS, thread_name_prefix="trapline-argon2")
        pool = _pool
    return await asyncio.get_running_loop().run_in_executor(pool, function, *args)


def _forget_pool() -> None:
    # A forked worker must not inherit the parent's threads (they do not exist in it).
    global _pool
    _pool = None


os.register_at_fork(after_in_child=_forget_pool)
