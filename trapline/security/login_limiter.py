"""Login rate limits per account and per address that a parallel burst cannot get around.

    result = limiter.reserve(account, address)   # before the password is checked
    if isinstance(result, Refusal):
        ...answer 429 with Retry-After: result.retry_after
    with result:                                 # an exception releases it uncounted
        if verify_password(...): result.succeeded()
        else: result.failed()

An attempt is *reserved* first, atomically, and an unsettled reservation
counts against the limits like a failure: a burst of 50 parallel wrong
passwords lets at most the allowed number through to the (slow) verification,
whichever worker process each lands in. ``failed`` turns the reservation into
a failure, ``succeeded`` clears the account's failures, ``release`` (or
leaving the ``with`` block unsettled) forgets it; a reservation of a worker
that died stops counting after ``reservation_ttl``.

The rules (``LoginLimits``, defaults in brackets):

- Account: after ``account_failures`` [5] failures in a row it is locked for
  ``lockout`` [15 min]; past a lock one attempt at a time is let through, and
  every further failure doubles the lock, up to ``max_lockout`` [1 h]. The
  count is forgotten ``account_window`` [15 min] after the last failure or the
  end of the lock, and by a successful login. An attacker can keep an account
  locked this way; an administrator lifts a lock with ``reset``.
- Address: at most ``address_failures`` [20] failures per ``address_window``
  [15 min] from one address, whatever the accounts (a sliding window); a
  success does not clear them, or one valid account would let its owner guess
  at every other. IPv6 addresses count per /64, the block one host usually has.

Account names are compared case-folded. ``SQLiteLoginLimiter`` keeps the
ledger in a small SQLite file (``DATA_DIR/login-attempts.db``, WAL, every
decision in one ``BEGIN IMMEDIATE`` transaction) so that the worker processes
of a node share it; ``MemoryLoginLimiter`` is the same for one process. Both
block briefly (the SQLite one up to ``busy_timeout``): call them from async
code through ``asyncio.to_thread``.
"""

from __future__ import annotations

import ipaddress
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec

from trapline.errors import ConfigError, TraplineError

__all__ = [
    "LEDGER_FILE",
    "LoginLimiter",
    "LoginLimiterError",
    "LoginLimits",
    "MemoryLoginLimiter",
    "Refusal",
    "Reservation",
    "SQLiteLoginLimiter",
    "account_key",
    "address_key",
    "open_login_limiter",
]

LEDGER_FILE = "login-attempts.db"
_SETTLING = 1.0  # Retry-After while the limit is full of unsettled reservations
_MAX_KEY_CHARS = 256


class LoginLimiterError(TraplineError):
    """The login ledger cannot be read or written (the login is refused)."""


class LoginLimits(msgspec.Struct, frozen=True, kw_only=True):
    """How many failed logins are allowed, and for how long they are remembered (seconds)."""

    account_failures: int = 5
    lockout: float = 900.0
    max_lockout: float = 3600.0
    account_window: float = 900.0
    address_failures: int = 20
    address_window: float = 900.0
    reservation_ttl: float = 60.0

    def __post_init__(self) -> None:
        if self.account_failures < 1 or self.address_failures < 1:
            raise ConfigError("login limits allow at least one failure")
        if min(self.lockout, self.account_window, self.address_window,
               self.reservation_ttl) <= 0 or self.max_lockout < self.lockout:
            raise ConfigError("login limit durations must be positive, max_lockout >= lockout")


class Refusal(msgspec.Struct, frozen=True):
    """A login attempt that must not be tried now; ``retry_after`` in seconds."""

    retry_after: float
    reason: Literal["account", "address"]


class Reservation:
    """A counted login attempt; settle it once with ``succeeded``, ``failed`` or ``release``."""

    def __init__(self, limiter: LoginLimiter, ident: int, account: str, address: str) -> None:
        self.account = account
        self.address = address
        self._limiter = limiter
        self._ident = ident
        self._settled = False
        self._lock = threading.Lock()

    def succeeded(self) -> None:
        """The password was right: clear the account's failures."""
        self._settle("success")

    def failed(self) -> None:
        """The password was wrong: count a failure for the account and the address."""
        self._settle("failure")

    def release(self) -> None:
        """The password was never checked (an error): forget the attempt."""
        self._settle("release")

    @property
    def settled(self) -> bool:
        return self._settled

    def _settle(self, outcome: str) -> None:
        with self._lock:
            if self._settled:
                return
            self._settled = True
        self._limiter._settle(self._ident, self.account, self.address, outcome,
                              self._limiter.clock())

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def account_key(account: str) -> str:
    """The name an account is counted under: stripped, case-folded, bounded."""
    return account.strip().casefold()[:_MAX_KEY_CHARS]


def address_key(address: str) -> str:
    """The key an address is counted under: IPv4 as is, IPv6 by /64, anything else as text."""
    text = address.strip()
    try:
        ip = ipaddress.ip_address(text.removeprefix("[").removesuffix("]"))
    except ValueError:
        return text[:_MAX_KEY_CHARS]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


@dataclass
class _Account:
    failures: int = 0
    last_failure: float = 0.0


class LoginLimiter:
    """The limiter's interface and its rules; the subclasses keep the ledger."""

    def __init__(self, limits: LoginLimits | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.limits = limits or LoginLimits()
        self.clock = clock

    def reserve(self, account: str, address: str) -> Reservation | Refusal:
        """Count an attempt before its password is checked, or refuse it."""
        return self._reserve(account_key(account), address_key(address), self.clock())

    def reset(self, account: str) -> None:
        """Forget an account's failures and lift its lock (an administrator's unlock)."""
        self._reset(account_key(account))

    # -- the rules, shared by every ledger --

    def _locked_until(self, state: _Account) -> float:
        extra = state.failures - self.limits.account_failures
        if extra < 0:
            return 0.0
        lock = min(self.limits.lockout * 2.0 ** min(extra, 64), self.limits.max_lockout)
        return state.last_failure + lock

    def _forget_at(self, state: _Account) -> float:
        return max(state.last_failure, self._locked_until(state)) + self.limits.account_window

    def _decide(self, state: _Account, account_pending: int, address_failures: list[float],
                address_pending: int, now: float) -> Refusal | None:
        """Whether one more attempt may be reserved; ``address_failures`` sorted, in window."""
        limits = self.limits
        if state.failures >= limits.account_failures:
            until = self._locked_until(state)
            if now < until:
                return Refusal(until - now, "account")
            if account_pending:
                return Refusal(_SETTLING, "account")
        elif state.failures + account_pending >= limits.account_failures:
            return Refusal(_SETTLING, "account")
        over = len(address_failures) + address_pending - limits.address_failures
        if over >= 0:
            if len(address_failures) >= limits.address_failures:
                # The window opens when enough of the oldest failures have aged out.
                oldest = address_failures[len(address_failures) - limits.address_failures]
                return Refusal(max(oldest + limits.address_window - now, _SETTLING), "address")
            return Refusal(_SETTLING, "address")
        return None

    def _after_failure(self, state: _Account, now: float) -> _Account:
        if now >= self._forget_at(state):
            state = _Account()
        return _Account(state.failures + 1, max(now, state.last_failure))

    # -- the ledger --

    def _reserve(self, account: str, address: str, now: float) -> Reservation | Refusal:
        raise NotImplementedError

    def _settle(self, ident: int, account: str, address: str, outcome: str,
                now: float) -> None:
        raise NotImplementedError

    def _reset(self, account: str) -> None:
        raise NotImplementedError


class MemoryLoginLimiter(LoginLimiter):
    """The ledger in this process's memory: for a single process and tests."""

    def __init__(self, limits: LoginLimits | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(limits, clock=clock)
        self._lock = threading.Lock()
        self._accounts: dict[str, _Account] = {}
        self._addresses: dict[str, deque[float]] = {}
        self._pending: dict[int, tuple[str, str, float]] = {}
        self._next = 0

    def _reserve(self, account: str, address: str, now: float) -> Reservation | Refusal:
        with self._lock:
            self._prune(now)
            state = self._accounts.get(account, _Account())
            live = [(a, b) for a, b, expires in self._pending.values() if expires > now]
            refusal = self._decide(state, sum(a == account for a, _ in live),
                                   list(self._addresses.get(address, ())),
                                   sum(b == address for _, b in live), now)
            if refusal is not None:
                return refusal
            self._next += 1
            self._pending[self._next] = (account, address, now + self.limits.reservation_ttl)
            return Reservation(self, self._next, account, address)

    def _settle(self, ident: int, account: str, address: str, outcome: str,
                now: float) -> None:
        with self._lock:
            self._pending.pop(ident, None)
            if outcome == "success":
                self._accounts.pop(account, None)
            elif outcome == "failure":
                state = self._accounts.get(account, _Account())
                self._accounts[account] = self._after_failure(state, now)
                self._addresses.setdefault(address, deque()).append(now)

    def _reset(self, account: str) -> None:
        with self._lock:
            self._accounts.pop(account, None)

    def _prune(self, now: float) -> None:
        for ident in [i for i, (_, _, expires) in self._pending.items() if expires <= now]:
            del self._pending[ident]
        for name in [n for n, s in self._accounts.items() if now >= self._forget_at(s)]:
            del self._accounts[name]
        horizon = now - self.limits.address_window
        for address in list(self._addresses):
            times = self._addresses[address]
            while times and times[0] <= horizon:
                times.popleft()
            if not times:
                del self._addresses[address]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    account TEXT PRIMARY KEY, failures INTEGER NOT NULL, last_failure REAL NOT NULL,
    forget_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS accounts_forget_at ON accounts (forget_at);
CREATE TABLE IF NOT EXISTS address_failures (address TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS address_failures_address ON address_failures (address, at);
CREATE INDEX IF NOT EXISTS address_failures_at ON address_failures (at);
CREATE TABLE IF NOT EXISTS reservations (
    id INTEGER PRIMARY KEY, account TEXT NOT NULL, address TEXT NOT NULL,
    expires_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS reservations_account ON reservations (account);
CREATE INDEX IF NOT EXISTS reservations_address ON reservations (address);
CREATE INDEX IF NOT EXISTS reservations_expires_at ON reservations (expires_at);
"""


class SQLiteLoginLimiter(LoginLimiter):
    """The ledger in a SQLite file shared by the worker processes of one node.

    Each decision is one ``BEGIN IMMEDIATE`` transaction: SQLite lets one
    writer in at a time across processes, so the count read is the count
    written. One connection per process (re-opened after a fork), its threads
    taking turns.
    """

    def __init__(self, path: Path, limits: LoginLimits | None = None, *,
                 clock: Callable[[], float] = time.time, busy_timeout: float = 5.0) -> None:
        super().__init__(limits, clock=clock)
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._pid = 0
        with self._transaction() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)

    def close(self) -> None:
        """Close this process's connection (it re-opens on the next use)."""
        with self._lock:
            if self._connection is not None and self._pid == os.getpid():
                self._connection.close()
            self._connection = None

    def _reserve(self, account: str, address: str, now: float) -> Reservation | Refusal:
        limits = self.limits
        with self._transaction() as db:
            db.execute("DELETE FROM reservations WHERE expires_at <= ?", (now,))
            db.execute("DELETE FROM accounts WHERE forget_at <= ?", (now,))
            db.execute("DELETE FROM address_failures WHERE at <= ?",
                       (now - limits.address_window,))
            row = db.execute("SELECT failures, last_failure FROM accounts WHERE account = ?",
                             (account,)).fetchone()
            state = _Account(*row) if row else _Account()
            account_pending = db.execute("SELECT count(*) FROM reservations WHERE account = ?",
                                         (account,)).fetchone()[0]
            address_pending = db.execute("SELECT count(*) FROM reservations WHERE address = ?",
                                         (address,)).fetchone()[0]
            failures = [at for (at,) in db.execute(
                "SELECT at FROM address_failures WHERE address = ? ORDER BY at", (address,))]
            refusal = self._decide(state, account_pending, failures, address_pending, now)
            if refusal is not None:
                return refusal
            cursor = db.execute(
                "INSERT INTO reservations (account, address, expires_at) VALUES (?, ?, ?)",
                (account, address, now + limits.reservation_ttl))
            ident = cursor.lastrowid
        assert ident is not None
        return Reservation(self, ident, account, address)

    def _settle(self, ident: int, account: str, address: str, outcome: str,
                now: float) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM reservations WHERE id = ?", (ident,))
            if outcome == "success":
                db.execute("DELETE FROM accounts WHERE account = ?", (account,))
            elif outcome == "failure":
                row = db.execute("SELECT failures, last_failure FROM accounts "
                                 "WHERE account = ?", (account,)).fetchone()
                state = self._after_failure(_Account(*row) if row else _Account(), now)
                db.execute("INSERT OR REPLACE INTO accounts VALUES (?, ?, ?, ?)",
                           (account, state.failures, state.last_failure,
                            self._forget_at(state)))
                db.execute("INSERT INTO address_failures VALUES (?, ?)", (address, now))

    def _reset(self, account: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM accounts WHERE account = ?", (account,))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                db = self._connect()
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise LoginLimiterError(f"login ledger {self.path}: {exc}") from exc
            try:
                yield db
                db.execute("COMMIT")
            except BaseException as exc:
                with suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise LoginLimiterError(f"login ledger {self.path}: {exc}") from exc
                raise

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None or self._pid != os.getpid():
            connection = sqlite3.connect(self.path, timeout=self.busy_timeout,
                                         isolation_level=None, check_same_thread=False)
            try:
                connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at checkpoints
            except sqlite3.Error:
                connection.close()
                raise
            self._connection, self._pid = connection, os.getpid()
        return self._connection


def open_login_limiter(data_dir: Path, limits: LoginLimits | None = None) -> SQLiteLoginLimiter:
    """The node's shared limiter, ``DATA_DIR/login-attempts.db``."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    return SQLiteLoginLimiter(Path(data_dir) / LEDGER_FILE, limits)
