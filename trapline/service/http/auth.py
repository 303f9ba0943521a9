"""HTTP Basic authentication in front of a pluggable ``authenticate_basic(user, password)``.

The authenticator (the store's users, issue 5) may hash passwords, which costs
milliseconds: it runs in a thread, never on the event loop, and a success is
remembered for a while (keyed by a digest of the ``Authorization`` header,
never the password itself), so a SIEM sending thousands of requests a second
costs one check per ``ttl``. Failures are not remembered.
"""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import time
from base64 import b64decode
from collections.abc import Callable

from trapline.service.http.context import Authenticate, Principal

CHALLENGE = (b"www-authenticate", b'Basic realm="trapline"')
MAX_CACHED = 4096


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


class BasicAuth:
    """Checks ``Authorization`` headers; remembers successes for ``ttl`` seconds."""

    def __init__(self, authenticate: Authenticate, ttl: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.authenticate = authenticate
        self.ttl = ttl
        self.clock = clock
        self.cache: dict[bytes, tuple[Principal, float]] = {}

    async def check(self, header: bytes | None) -> Principal | None:
        """The principal the header authenticates, or None (missing or wrong)."""
        if not header:
            return None
        key = hashlib.sha256(header).digest()
        now = self.clock()
        hit = self.cache.get(key)
        if hit is not None:
            if hit[1] > now:
                return hit[0]
            del self.cache[key]
        credentials = basic_credentials(header)
        if credentials is None:
            return None
        principal = await asyncio.to_thread(self.authenticate, *credentials)
        if principal is not None and self.ttl > 0:
            self._remember(key, principal, now + self.ttl)
        return principal

    def clear(self) -> None:
        """Forget every remembered success (after a password or role change)."""
        self.cache.clear()

    def _remember(self, key: bytes, principal: Principal, until: float) -> None:
        if len(self.cache) >= MAX_CACHED:
            now = self.clock()
            for stale in [k for k, (_, t) in self.cache.items() if t <= now]:
                del self.cache[stale]
            while len(self.cache) >= MAX_CACHED:
                del self.cache[next(iter(self.cache))]
        self.cache[key] = (principal, until)
