"""Who is asking: passwords (limited), API tokens, and the user's current role.

    authenticator = Authenticator(store, limiter)
    principal = await authenticator.password("alice", "s3cret", "192.0.2.10")
    principal = await authenticator.token("tl_...")
    principal = await authenticator.current(principal)   # role, tenant, disabled: now

Every password attempt, through Basic auth or the login form, is reserved with
the login limiter before its hash is checked and settled after, so a burst of
parallel guesses lets no more than the allowed number reach argon2; a refused
attempt raises ``LoginThrottled`` (429 with ``Retry-After``). An unknown user
costs a dummy verification, so the answer time does not say who exists.

A user's role, tenant and disabled flag are read from the store again at most
``ttl`` seconds (1 s) after the last read, on every request: a demotion or a
disable applies at once, whatever a cookie or a cached password check says.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import msgspec

from trapline.security import passwords
from trapline.security.login_limiter import LoginLimiterError, Refusal
from trapline.security.roles import Principal
from trapline.security.tokens import looks_like_token, token_digest
from trapline.store import Store, StoreError, User

log = logging.getLogger("trapline.http")

PRINCIPAL_TTL = 1.0  # seconds a user's role, tenant and disabled flag are trusted


class LoginThrottled(Exception):
    """The login limiter refused an attempt: answer 429 with ``Retry-After``."""

    def __init__(self, retry_after: float, reason: str = "account") -> None:
        super().__init__(f"too many failed logins ({reason}); retry in {retry_after:.0f} s")
        self.retry_after = retry_after
        self.reason = reason

    @property
    def header(self) -> str:
        """The ``Retry-After`` value: whole seconds, at least 1."""
        return str(max(1, math.ceil(self.retry_after)))


class LoginUnavailable(Exception):
    """The login ledger or the store cannot be read: the login is refused (503)."""


class Authenticator:
    """Passwords through the limiter, tokens by digest, principals kept current."""

    def __init__(self, store: Store, limiter: Any = None, *, ttl: float = PRINCIPAL_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.limiter = limiter
        self.ttl = ttl
        self.clock = clock
        self._users: dict[str, tuple[User | None, float]] = {}
        self.verifications = 0  # password hashes checked (tests, metrics)

    async def password(self, user: str, password: str, address: str) -> Principal | None:
        """The principal for a user name and password, or None; LoginThrottled when the
        limiter refuses the attempt, LoginUnavailable when the ledger or store fails."""
        reservation = None
        if self.limiter is not None:
            try:
                reserved = await asyncio.to_thread(self.limiter.reserve, user, address)
            except LoginLimiterError as exc:
                log.error("login refused, the login ledger fails: %s", exc)
                raise LoginUnavailable(str(exc)) from None
            if isinstance(reserved, Refusal):
                raise LoginThrottled(reserved.retry_after, reserved.reason)
            reservation = reserved
        try:
            try:
                stored = await asyncio.to_thread(self._hash_and_user, user)
            except StoreError as exc:
                raise LoginUnavailable(str(exc)) from None
            self.verifications += 1
            if stored is None:
                await passwords.dummy_verify_async(password)
                ok, record = False, None
            else:
                ok = await passwords.verify_password_async(stored[0], password)
                record = stored[1]
            granted = ok and record is not None and not record.disabled
            if reservation is not None:
                settle = reservation.succeeded if granted else reservation.failed
                await asyncio.to_thread(settle)
        finally:
            if reservation is not None and not reservation.settled:
                await asyncio.to_thread(reservation.release)
        if not granted or record is None:
            return None
        self._users[record.name] = (record, self.clock() + self.ttl)
        return Principal(name=record.name, role=record.role, tenant=record.tenant,
                         via="password")

    def _hash_and_user(self, name: str) -> tuple[str, User] | None:
        stored = self.store.users.password_hash(name)
        if stored is None:
            return None
        record = self.store.users.find(name)
        return None if record is None else (stored, record)

    async def token(self, text: str) -> Principal | None:
        """The principal of a usable API token (known, not revoked or expired, its user
        enabled), or None. A use is recorded (``touch``, at most once a minute)."""
        if not looks_like_token(text):
            return None
        digest = token_digest(text)

        def find() -> Principal | None:
            token = self.store.tokens.find(digest)
            if token is None:
                return None
            record = self.store.users.find(token.user)
            if record is None or record.disabled:
                return None
            self.store.tokens.touch(token.id)
            self._users[record.name] = (record, self.clock() + self.ttl)
            return Principal(name=record.name, role=record.role, tenant=record.tenant,
                             via="token")

        try:
            return await asyncio.to_thread(find)
        except StoreError as exc:
            raise LoginUnavailable(str(exc)) from None

    async def current(self, principal: Principal) -> Principal | None:
        """``principal`` with the user's role and tenant as the store holds them now;
        None when the user was deleted or disabled."""
        record = await self.user(principal.name)
        if record is None or record.disabled:
            return None
        if record.role == principal.role and record.tenant == principal.tenant:
            return principal
        return msgspec.structs.replace(principal, role=record.role, tenant=record.tenant)

    async def user(self, name: str) -> User | None:
        """The user as stored, read again at most every ``ttl`` seconds."""
        now = self.clock()
        held = self._users.get(name)
        if held is not None and held[1] > now:
            return held[0]
        try:
            record = await asyncio.to_thread(self.store.users.find, name)
        except StoreError as exc:
            raise LoginUnavailable(str(exc)) from None
        if len(self._users) > 10_000:
            self._users.clear()
        self._users[name] = (record, now + self.ttl)
        return record

    def forget(self, name: str | None = None) -> None:
        """Drop what is held of a user (all users when None), after a change here."""
        if name is None:
            self._users.clear()
        else:
            self._users.pop(name, None)


async def recheck_changed_password(auth: Any, authenticator: Authenticator, header: bytes,
                                   principal: Principal, address: str) -> Principal | None:
    """``principal`` from a remembered Basic header, checked again when the user's
    password changed (or sessions were ended) since it was remembered."""
    if principal.via != "password":
        return principal
    record = await authenticator.user(principal.name)
    changed = record.sessions_valid_after if record is not None else None
    verified = auth.verified_at(header)
    if changed is None or verified is None or verified >= changed:
        return principal
    auth.forget(header)
    return await auth.check(header, address)
