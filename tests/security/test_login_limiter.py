"""Login limits per account and per address, on both ledgers, with an injected clock."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from limiter_burst import burst

from trapline.errors import ConfigError
from trapline.security.login_limiter import (
    LoginLimiter,
    LoginLimiterError,
    LoginLimits,
    MemoryLoginLimiter,
    Refusal,
    Reservation,
    SQLiteLoginLimiter,
    account_key,
    address_key,
    open_login_limiter,
)

T0 = 1_800_000_000.0
ADDRESS = "192.0.2.10"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "sqlite"])
def make(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock):
    def factory(limits: LoginLimits | None = None, *, with_clock: bool = True) -> LoginLimiter:
        kwargs = {"clock": clock} if with_clock else {}
        if request.param == "memory":
            return MemoryLoginLimiter(limits, **kwargs)
        return SQLiteLoginLimiter(tmp_path / "login-attempts.db", limits, **kwargs)
    return factory


@pytest.fixture
def limiter(make) -> LoginLimiter:
    return make()


def reserve(limiter: LoginLimiter, account: str = "alice",
            address: str = ADDRESS) -> Reservation:
    result = limiter.reserve(account, address)
    assert isinstance(result, Reservation), result
    return result


def fail(limiter: LoginLimiter, times: int, account: str = "alice",
         address: str = ADDRESS) -> None:
    for _ in range(times):
        reserve(limiter, account, address).failed()


def refused(limiter: LoginLimiter, account: str = "alice", address: str = ADDRESS) -> Refusal:
    result = limiter.reserve(account, address)
    assert isinstance(result, Refusal), result
    return result


def test_five_failures_lock_the_account_for_fifteen_minutes(limiter, clock) -> None:
    fail(limiter, 5)
    refusal = refused(limiter)
    assert refusal.reason == "account" and refusal.retry_after == pytest.approx(900)
    clock.now += 600
    assert refused(limiter).retry_after == pytest.approx(300)
    reserve(limiter, "bob").release()  # other accounts are not affected


def test_the_lock_expires_then_doubles_with_each_further_failure(limiter, clock) -> None:
    fail(limiter, 5)
    for lock in (900, 1800, 3600, 3600):  # capped at max_lockout
        clock.now += lock - 1
        assert refused(limiter).retry_after == pytest.approx(1)
        clock.now += 1
        probe = reserve(limiter)
        assert refused(limiter).retry_after == 1.0  # one attempt at a time past a lock
        probe.failed()


def test_success_after_a_lock_resets_the_account(limiter, clock) -> None:
    fail(limiter, 5)
    clock.now += 900
    reserve(limiter).succeeded()
    fail(limiter, 4)
    reserve(limiter).succeeded()
    fail(limiter, 5)  # a full allowance again
    refused(limiter)


def test_success_resets_the_account_s_failures(limiter) -> None:
    fail(limiter, 4)
    reserve(limiter).succeeded()
    fail(limiter, 4)
    reserve(limiter).release()
    fail(limiter, 1)
    assert refused(limiter).reason == "account"


def test_failures_are_forgotten_after_a_quiet_window(limiter, clock) -> None:
    fail(limiter, 4)
    clock.now += 899
    fail(limiter, 1)
    refused(limiter)
    clock.now += 900 + 900  # the lock, then the quiet window
    fail(limiter, 4)
    reserve(limiter).release()


def test_unsettled_reservations_count_until_settled(limiter) -> None:
    held = [reserve(limiter) for _ in range(5)]
    refusal = refused(limiter)
    assert refusal.reason == "account" and refusal.retry_after == 1.0
    held.pop().release()
    held.append(reserve(limiter))
    for reservation in held:
        reservation.failed()
    refused(limiter)


def test_a_reservation_abandoned_by_a_dead_worker_stops_counting(limiter, clock) -> None:
    for _ in range(5):
        reserve(limiter)  # never settled
    refused(limiter)
    clock.now += 60
    reserve(limiter).release()


def test_settling_twice_counts_once(limiter) -> None:
    reservation = reserve(limiter)
    reservation.failed()
    reservation.failed()
    reservation.succeeded()
    assert reservation.settled
    fail(limiter, 4)
    refused(limiter)


def test_an_exception_in_the_with_block_releases_the_attempt_uncounted(limiter) -> None:
    for _ in range(10):
        with pytest.raises(RuntimeError), reserve(limiter):
            raise RuntimeError("the store is down")
    fail(limiter, 5)
    refused(limiter)


def test_account_names_are_case_folded(limiter) -> None:
    fail(limiter, 2, "Admin")
    fail(limiter, 2, " admin")
    fail(limiter, 1, "ADMIN ")
    refused(limiter, "admin")
    assert account_key(" ADMIN ") == "admin"


def test_twenty_failures_per_address_across_accounts(limiter, clock) -> None:
    for n in range(20):
        fail(limiter, 1, f"user{n}")
        clock.now += 10
    refusal = refused(limiter, "fresh-account")
    assert refusal.reason == "address"
    assert refusal.retry_after == pytest.approx(900 - 200)  # the oldest failure ages out
    reserve(limiter, "fresh-account", "192.0.2.11").release()  # another address is fine
    clock.now += refusal.retry_after
    reserve(limiter, "fresh-account").release()


def test_pending_attempts_count_against_the_address(limiter) -> None:
    held = [reserve(limiter, f"user{n}") for n in range(20)]
    assert refused(limiter, "user99").reason == "address"
    for reservation in held:
        reservation.release()
    reserve(limiter, "user99").release()


def test_success_does_not_clear_the_address_failures(limiter) -> None:
    for n in range(19):
        fail(limiter, 1, f"victim{n}")
    reserve(limiter, "attacker-own-account").succeeded()
    fail(limiter, 1, "victim19")
    assert refused(limiter, "victim20").reason == "address"


def test_ipv6_addresses_count_per_64(limiter) -> None:
    for n in range(20):
        fail(limiter, 1, f"user{n}", f"2001:db8:1:2::{n:x}")
    assert refused(limiter, "other", "2001:db8:1:2:ffff::1").reason == "address"
    reserve(limiter, "other", "2001:db8:1:3::1").release()


def test_address_keys() -> None:
    assert address_key("192.0.2.1") == "192.0.2.1"
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key("2001:db8::1") == address_key("[2001:db8:0:0:ffff::2]") == "2001:db8::/64"
    assert address_key("testclient") == "testclient"
    assert len(address_key("x" * 10_000)) == 256


def test_reset_lifts_a_lock(limiter) -> None:
    fail(limiter, 5)
    refused(limiter)
    limiter.reset("ALICE")
    fail(limiter, 5)


def test_sqlite_ledger_is_shared_and_pruned(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "login-attempts.db"
    first = SQLiteLoginLimiter(path, clock=clock)
    second = SQLiteLoginLimiter(path, clock=clock)  # another worker process of the node
    fail(first, 3)
    fail(second, 2)
    refused(first)
    refused(second)
    for n in range(10):
        fail(first, 1, f"user{n}", f"203.0.113.{n}")
    reserve(second, "pending")  # never settled
    clock.now += 3 * 3600
    reserve(first, "bob").release()  # any decision prunes what has expired
    with sqlite3.connect(path) as db:
        counts = [db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                  for table in ("accounts", "address_failures", "reservations")]
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    assert counts == [0, 0, 0]
    assert mode == "wal"


def test_open_login_limiter_uses_the_data_dir(tmp_path: Path) -> None:
    limiter = open_login_limiter(tmp_path / "data")
    reserve(limiter).failed()
    assert (tmp_path / "data" / "login-attempts.db").is_file()
    limiter.close()


def test_an_unusable_ledger_is_a_login_limiter_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(LoginLimiterError):
        SQLiteLoginLimiter(tmp_path / "file" / "login-attempts.db")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database" * 100)
    with pytest.raises(LoginLimiterError):
        SQLiteLoginLimiter(garbage)


def test_custom_limits_and_their_validation(make) -> None:
    limiter = make(LoginLimits(account_failures=2, address_failures=3))
    fail(limiter, 2)
    refused(limiter)
    fail(limiter, 1, "bob")
    assert refused(limiter, "carol").reason == "address"
    for bad in ({"account_failures": 0}, {"lockout": 0}, {"max_lockout": 10}):
        with pytest.raises(ConfigError):
            LoginLimits(**bad)


def test_a_parallel_burst_of_50_lets_only_the_limit_through(make) -> None:
    limiter = make(with_clock=False)
    verified, refused_count, errors = burst(limiter, 50)
    assert errors == []
    assert verified == 5
    assert refused_count == 45
    assert isinstance(limiter.reserve("admin", "198.51.100.7"), Refusal)
