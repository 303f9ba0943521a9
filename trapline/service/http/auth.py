"""HTTP Basic (and Bearer token) authentication in front of a pluggable authenticator.

The authenticator (the store's users: ``identity.Authenticator``, or a bare
``authenticate_basic(user, password)``) hashes passwords, which costs about
100 ms: never on the event loop, and a success is remembered for a while
(keyed by a digest of the ``Authorization`` header, never the password
itself), so a SIEM sending thousands of requests a second costs one check per
``ttl``. Failures are not remembered: each goes through the login limiter
again. A token is remembered for at most ``TOKEN_TTL`` seconds, so a revoked
one stops working soon on every worker.
"""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import time
from base64 import b64decode
from collections.abc import Awaitable, Callable

from trapline.service.http.context import Authenticate, Principal

CHALLENGE = (b"www-authenticate", b'Basic realm="trapline"')
MAX_CACHED = 4096
TOKEN_TTL = 5.0

Login = Callable[[str, str, str], Awaitable[Principal | None]]
"""``login(user, password, address)``: the principal, None, or LoginThrottled."""

Bearer = Callable[[str], Awaitable[Principal | None]]
"""``bearer(token)``: the principal of an API token, or None."""


def refuse_everyone(user: str, password: str) -> Principal | None:
    """The authenticator when no user store is configured: nobody gets in."""
    return None


def basic_credentials(header: bytes) -> tuple[str, str] | None:
    """``(user, password)`` from an ``Authorization: Basic ...`` value, or None."""
    scheme, _, encoded = header.strip().partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        decoded = b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        text = decoded.decode("latin-1")  # RFC 7617: older clients send ISO-8859-1
    user, sep, password = text.partition(":")
    return (user, password) if sep else None


def bearer_token(header: bytes) -> str | None:
    """The token of an ``Authorization: Bearer ...`` value, or None."""
    scheme, _, token = header.strip().partition(b" ")
    if scheme.lower() != b"bearer":
        return None
    try:
        return token.strip().decode("ascii")
    except UnicodeDecodeError:
        return None


class BasicAuth:
    """Checks ``Authorization`` headers; remembers successes for ``ttl`` seconds.

    With ``login`` (async, given the client's address) passwords go through
    it, and the login limiter behind it; otherwise ``authenticate`` runs in a
    thread. With ``bearer``, ``Authorization: Bearer tl_...`` tokens are
    accepted too.
    """

    def __init__(self, authenticate: Authenticate, ttl: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, *,
                 login: Login | None = None, bearer: Bearer | None = None) -> None:
        self.authenticate = authenticate
        self.ttl = ttl
        self.clock = clock
        self.login = login
        self.bearer = bearer
        self.cache: dict[bytes, tuple[Principal, float]] = {}
        self.verified: dict[bytes, float] = {}  # wall-clock time each success was checked

    async def check(self, header: bytes | None, address: str = "") -> Principal | None:
        """The principal the header authenticates, or None (missing or wrong).

        Raises what ``login`` raises (``LoginThrottled`` when the limiter refuses)."""
        if not header:
            return None
        key = hashlib.sha256(header).digest()
        now = self.clock()
        hit = self.cache.get(key)
        if hit is not None:
            if hit[1] > now:
                return hit[0]
            del self.cache[key]
        ttl = self.ttl
        credentials = basic_credentials(header)
        if credentials is not None:
            if self.login is not None:
                principal = await self.login(*credentials, address)
            else:
                principal = await asyncio.to_thread(self.authenticate, *credentials)
        else:
            token = bearer_token(header) if self.bearer is not None else None
            if token is None or self.bearer is None:
                return None
            principal = await self.bearer(token)
            ttl = min(ttl, TOKEN_TTL)
        if principal is not None and ttl > 0:
            self._remember(key, principal, now + ttl)
            self.verified[key] = time.time()
        return principal

    def verified_at(self, header: bytes) -> float | None:
        """When the remembered success of ``header`` was checked (wall clock), if any."""
        return self.verified.get(hashlib.sha256(header).digest())

    def forget(self, header: bytes) -> None:
        """Check ``header`` again next time (its user's password may have changed)."""
        key = hashlib.sha256(header).digest()
        self.cache.pop(key, None)
        self.verified.pop(key, None)

    def clear(self) -> None:
        """Forget every remembered success (after a password or role change)."""
        self.cache.clear()
        self.verified.clear()

    def _remember(self, key: bytes, principal: Principal, until: float) -> None:
        if len(self.cache) >= MAX_CACHED:
            now = self.clock()
            for stale in [k for k, (_, t) in self.cache.items() if t <= now]:
                del self.cache[stale]
                self.verified.pop(stale, None)
            while len(self.cache) >= MAX_CACHED:
                oldest = next(iter(self.cache))
                del self.cache[oldest]
                self.verified.pop(oldest, None)
        self.cache[key] = (principal, until)
