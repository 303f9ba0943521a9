"""A burst of parallel wrong-password logins against a limiter (threads of one process)."""

from __future__ import annotations

import threading
import time

import argon2

from trapline.security.login_limiter import LoginLimiter, Refusal
from trapline.security.passwords import verify_password

# A real argon2id hash with cheap parameters: the suite runs on two shared cores;
# HOLD stands in for the production cost, keeping the attempts in flight together.
CHEAP_HASH = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("right")
HOLD = 0.05


def burst(limiter: LoginLimiter, attempts: int, *, account: str = "admin",
          address: str = "198.51.100.7", start=None) -> tuple[int, int, list[str]]:
    """Run ``attempts`` logins at once; (verified, refused, errors).

    ``account`` may hold ``{n}``, the attempt's number, to spread over accounts;
    ``start`` runs before the threads start (a barrier with other processes).
    """
    barrier = threading.Barrier(attempts)
    lock = threading.Lock()
    verified, refused, errors = [0], [0], []

    def attempt(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            result = limiter.reserve(account.format(n=n), address)
            if isinstance(result, Refusal):
                with lock:
                    refused[0] += 1
                return
            with lock:
                verified[0] += 1
            with result:
                time.sleep(HOLD)
                if verify_password(CHEAP_HASH, f"wrong password {n}"):
                    result.succeeded()
                else:
                    result.failed()
        except Exception as exc:  # reported to the test, which fails on any
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")

    if start is not None:
        start()
    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return verified[0], refused[0], errors
