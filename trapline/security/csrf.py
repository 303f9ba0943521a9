"""CSRF protection for every state change made with a browser session.

Two independent checks, both required for an unsafe method (anything but
GET, HEAD, OPTIONS, TRACE):

1. Origin: the ``Origin`` header (or, when a browser sent none, the
   ``Referer``) must be the server's own origin or one of the allowed ones. A
   request with neither is refused: every current browser sends ``Origin``
   with a POST, PUT, PATCH or DELETE.
2. Token: ``X-CSRF-Token`` (or the ``csrf_token`` form field) must hold a token
   made by ``csrf_token`` for this very session: ``<time>.<HMAC-SHA256 keyed by
   the session's CSRF secret over its id and the time>``, younger than
   ``TOKEN_MAX_AGE`` (12 h, a session's lifetime). A page embeds one in a
   ``<meta>`` tag or a hidden field.

The functions are pure: the HTTP face hands over the method, the headers, the
session and the origins, and gets a ``CsrfDecision`` with the reason. Requests
authenticated by an API token carry no cookie and need no CSRF check; the
login form, which has no session yet, gets the origin check alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from typing import NamedTuple
from urllib.parse import urlsplit

from trapline.security.sessions import Session

__all__ = [
    "FORM_FIELD",
    "HEADER",
    "TOKEN_MAX_AGE",
    "CsrfDecision",
    "check_origin",
    "check_request",
    "csrf_token",
    "is_safe_method",
    "normalize_origin",
]

HEADER = "X-CSRF-Token"
FORM_FIELD = "csrf_token"
TOKEN_MAX_AGE = 12 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_CLOCK_SKEW = 60
_MAX_TOKEN_CHARS = 128
_DEFAULT_PORTS = {"http": 80, "https": 443}


class CsrfDecision(NamedTuple):
    """Whether a request may go on, and why (for the log and the 403 page)."""

    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def is_safe_method(method: str) -> bool:
    """True for methods that must not change state, and so need no CSRF check."""
    return method.upper() in SAFE_METHODS


def csrf_token(session: Session, *, now: float | None = None) -> str:
    """A CSRF token for ``session``, valid for ``TOKEN_MAX_AGE``."""
    issued = int(time.time() if now is None else now)
    return f"{issued:x}.{_mac(session, issued)}"


def normalize_origin(value: str) -> str | None:
    """``scheme://host[:port]`` of an HTTP(S) URL, lower case, without a default port;
    None if ``value`` is not one."""
    value = value.strip()
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def check_origin(method: str, headers: Mapping[str, str],
                 allowed_origins: Iterable[str]) -> CsrfDecision:
    """The origin check alone (for the login form, which has no session yet)."""
    if is_safe_method(method):
        return CsrfDecision(True, "safe method")
    allowed = {normalize_origin(o if "://" in o else "https://" + o) for o in allowed_origins}
    allowed.discard(None)  # an unparsable entry allows nothing (and never an unparsable origin)
    origin = _header(headers, "Origin")
    if origin is not None:
        if origin.strip() == "null":
            return CsrfDecision(False, "Origin is null (sandboxed or privacy-redirected page)")
        if normalize_origin(origin) not in allowed:
            return CsrfDecision(False, f"cross-origin request from Origin {_quote(origin)}")
        return CsrfDecision(True, "same origin")
    referer = _header(headers, "Referer")
    if referer is None:
        return CsrfDecision(False, "no Origin or Referer header")
    if normalize_origin(referer) not in allowed:
        return CsrfDecision(False, f"cross-origin request from Referer {_quote(referer)}")
    return CsrfDecision(True, "same origin (Referer)")


def check_request(method: str, headers: Mapping[str, str], session: Session,
                  allowed_origins: Iterable[str], *, form_token: str | None = None,
                  now: float | None = None, max_age: int = TOKEN_MAX_AGE) -> CsrfDecision:
    """Whether a request made with ``session``'s cookie may change state.

    ``allowed_origins``: the server's own origin (as the browser sees it) and
    any others allowed, each ``scheme://host[:port]`` or a bare ``host[:port]``
    meaning HTTPS; ``form_token``: the ``csrf_token`` field of a form body.
    """
    origin = check_origin(method, headers, allowed_origins)
    if not origin.allowed or is_safe_method(method):
        return origin
    token = _header(headers, HEADER) or form_token
    if not token:
        return CsrfDecision(False, "missing CSRF token")
    issued_text, _, mac = token.partition(".")
    try:
        issued = int(issued_text, 16)
    except ValueError:
        issued = -1
    if len(token) > _MAX_TOKEN_CHARS or issued < 0 or not mac:
        return CsrfDecision(False, "malformed CSRF token")
    if not hmac.compare_digest(mac.encode("ascii", "replace"), _mac(session, issued).encode()):
        return CsrfDecision(False, "CSRF token does not belong to this session")
    current = time.time() if now is None else now
    if current - issued > max_age or issued > current + _CLOCK_SKEW:
        return CsrfDecision(False, "expired CSRF token")
    return CsrfDecision(True, "same origin and valid CSRF token")


def _mac(session: Session, issued: int) -> str:
    message = f"trapline.csrf|{session.session_id}|{issued}".encode()
    digest = hmac.new(session.csrf_secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def _quote(value: str) -> str:
    return repr(value[:100])
