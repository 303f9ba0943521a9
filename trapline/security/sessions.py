"""Browser sessions in signed cookies, and the cookie's attributes.

The cookie carries the session itself (user, tenant, role, a per-session CSRF
secret, a session id, the login time), signed (HMAC-SHA256) with the node's
secret key by itsdangerous: readable by whoever holds it, unforgeable without
the key, so nothing sensitive goes in. Two clocks end a session: ``max_age`` after login
(default 12 h), and ``idle_timeout`` after the cookie was last signed (default
1 h); the HTTP face re-issues the cookie when ``refresh_due`` says so, which
slides the idle clock while the user is active. Logging out clears the cookie;
revoking a session before it expires needs the store (its ``session_id``, or a
per-user "signed out before" time).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from itsdangerous import BadData, TimestampSigner, URLSafeTimedSerializer

from trapline.errors import ConfigError

__all__ = ["CookiePolicy", "Session", "SessionCodec", "new_session"]

MAX_AGE = 12 * 3600
IDLE_TIMEOUT = 3600
_SALT = "trapline.session.v1"
_MAX_COOKIE_CHARS = 4096
_CLOCK_SKEW = 60  # seconds a login time may lie in the future (clocks of several nodes)
_COOKIE_VALUE = re.compile(r"[A-Za-z0-9._-]*")


class Session(msgspec.Struct, frozen=True, kw_only=True):
    """One signed-in browser: who, where, as what, and its CSRF secret."""

    user: str
    tenant: str
    role: str
    csrf_secret: str       # keys this session's CSRF tokens (trapline.security.csrf)
    session_id: str        # random; names the session in the audit log and for revocation
    issued_at: int         # login time, Unix seconds
    seen: int = 0          # when the cookie was last signed; set by SessionCodec.loads


class _Payload(msgspec.Struct, array_like=True):
    user: str
    tenant: str
    role: str
    csrf_secret: str
    session_id: str
    issued_at: int


def new_session(user: str, tenant: str, role: str, *, now: float | None = None) -> Session:
    """A fresh session for a user who has just logged in."""
    issued = int(time.time() if now is None else now)
    return Session(user=user, tenant=tenant, role=role, csrf_secret=secrets.token_urlsafe(32),
                   session_id=secrets.token_urlsafe(16), issued_at=issued, seen=issued)


class _ClockSigner(TimestampSigner):
    def __init__(self, *args: Any, clock: Callable[[], float] = time.time, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock())


class SessionCodec:
    """Turns sessions into cookie values and back; a bad cookie is None, never an exception.

    ``secret`` is the key, or a list of keys newest last: cookies signed with
    an older one still load, which lets a key be rotated without signing
    everyone out.
    """

    def __init__(self, secret: bytes | Sequence[bytes], *, max_age: int = MAX_AGE,
                 idle_timeout: int = IDLE_TIMEOUT, refresh_after: int | None = None,
                 salt: str = _SALT, clock: Callable[[], float] = time.time) -> None:
        keys = [secret] if isinstance(secret, bytes | bytearray) else list(secret)
        if not keys or any(len(key) < 16 for key in keys):
            raise ConfigError("a session key has at least 16 bytes")
        if not 0 < idle_timeout <= max_age:
            raise ConfigError("the session idle timeout must be positive and at most max_age")
        self.max_age = max_age
        self.idle_timeout = idle_timeout
        # Re-signing on every request would send a Set-Cookie with every answer.
        self.refresh_after = idle_timeout // 12 if refresh_after is None else refresh_after
        self._clock = clock
        self._serializer = URLSafeTimedSerializer(keys, salt=salt, signer=_ClockSigner,
                                                  signer_kwargs={"clock": clock,
                                                                 "digest_method": hashlib.sha256})

    def dumps(self, session: Session) -> str:
        """The cookie value for ``session``, signed now (which restarts its idle clock)."""
        payload = _Payload(session.user, session.tenant, session.role, session.csrf_secret,
                           session.session_id, session.issued_at)
        return self._serializer.dumps(msgspec.to_builtins(payload))

    def loads(self, cookie: str | None) -> Session | None:
        """The session in ``cookie``; None if it is missing, tampered with, signed with
        another key, idle too long or older than ``max_age``."""
        if not isinstance(cookie, str) or not cookie or len(cookie) > _MAX_COOKIE_CHARS:
            return None
        try:
            data, signed = self._serializer.loads(cookie, max_age=self.idle_timeout,
                                                  return_timestamp=True)
            payload = msgspec.convert(data, _Payload)
        except (BadData, msgspec.ValidationError, ValueError, TypeError):
            return None
        now = self._clock()
        if not now - self.max_age < payload.issued_at <= now + _CLOCK_SKEW:
            return None
        return Session(user=payload.user, tenant=payload.tenant, role=payload.role,
                       csrf_secret=payload.csrf_secret, session_id=payload.session_id,
                       issued_at=payload.issued_at, seen=int(signed.timestamp()))

    def refresh_due(self, session: Session) -> bool:
        """True when the cookie should be re-issued (``dumps``) to keep the session alive."""
        return self._clock() - session.seen >= self.refresh_after


class CookiePolicy(msgspec.Struct, frozen=True, kw_only=True):
    """The session cookie's attributes.

    Always HttpOnly (scripts cannot read it). Over HTTPS it is Secure and named
    ``__Host-...``, so no other host or subdomain can set or shadow it.
    SameSite is Lax, or None when the UI must work inside a third-party iframe
    (a SIEM console embedding it): browsers send a SameSite=None cookie only
    when it is Secure, so ``embedded`` needs HTTPS. ``partitioned`` (CHIPS)
    keeps the embedded cookie in a jar of its own per top-level site, which
    browsers that block third-party cookies still accept. With SameSite=None
    the cookie rides on cross-site requests, and CSRF tokens and the origin
    check (trapline.security.csrf) are what stop them.
    """

    https: bool = True
    embedded: bool = False
    partitioned: bool = False
    name: str = "trapline_session"
    path: str = "/"
    max_age: int = MAX_AGE

    def __post_init__(self) -> None:
        if (self.embedded or self.partitioned) and not self.https:
            raise ConfigError("an embedded (SameSite=None) or partitioned session cookie "
                              "needs HTTPS")
        if not re.fullmatch(r"[A-Za-z0-9_-]+", self.name) or not self.path.startswith("/"):
            raise ConfigError(f"invalid session cookie name or path: {self.name!r} {self.path!r}")

    @property
    def cookie_name(self) -> str:
        """The name to set and read: prefixed ``__Host-`` (or ``__Secure-``) over HTTPS."""
        if not self.https:
            return self.name
        return ("__Host-" if self.path == "/" else "__Secure-") + self.name

    @property
    def same_site(self) -> str:
        return "None" if self.embedded else "Lax"

    def header(self, value: str) -> str:
        """A ``Set-Cookie`` header value carrying ``value`` (a SessionCodec cookie)."""
        if not _COOKIE_VALUE.fullmatch(value):
            raise ValueError("a session cookie value is URL-safe base64 and dots")
        return self._header(value, self.max_age)

    def clear_header(self) -> str:
        """A ``Set-Cookie`` header value that deletes the cookie (log out)."""
        return self._header("", 0)

    def _header(self, value: str, max_age: int) -> str:
        parts = [f"{self.cookie_name}={value}", f"Path={self.path}", f"Max-Age={max_age}",
                 "HttpOnly"]
        if self.https:
            parts.append("Secure")
        parts.append(f"SameSite={self.same_site}")
        if self.partitioned:
            parts.append("Partitioned")
        return "; ".join(parts)
