"""API tokens: random bearer secrets of which only a SHA-256 digest is stored.

A token reads ``tl_`` followed by 43 URL-safe characters (32 random bytes):
the prefix lets secret scanners and people recognise a leaked one. 256 random
bits need no slow hash, so checking a token costs one SHA-256 and a lookup by
digest, and a flood of invalid tokens cannot stall the service.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

__all__ = ["TOKEN_PREFIX", "digests_equal", "looks_like_token", "new_token", "token_digest",
           "verify_token"]

TOKEN_PREFIX = "tl_"
_TOKEN_BYTES = 32
_SHAPE = re.compile(r"tl_[A-Za-z0-9_-]{43}")


def new_token() -> tuple[str, str]:
    """A new token: ``(text, digest)``; show ``text`` once, store only ``digest``."""
    text = TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)
    return text, token_digest(text)


def token_digest(text: str) -> str:
    """The SHA-256 hex digest of a token's text: the key it is stored and looked up by."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def looks_like_token(text: str) -> bool:
    """True when ``text`` has a token's shape; a cheap refusal before any lookup."""
    return isinstance(text, str) and _SHAPE.fullmatch(text) is not None


def digests_equal(a: str, b: str) -> bool:
    """Compare two digests in constant time (no early exit on the first difference)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"),
                               b.encode("utf-8", "surrogatepass"))


def verify_token(text: str, stored_digest: str) -> bool:
    """True when ``text`` is the token whose digest is ``stored_digest``."""
    return looks_like_token(text) and digests_equal(token_digest(text), stored_digest)
