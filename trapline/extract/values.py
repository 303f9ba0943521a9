"""Cheap shape checks: does a captured value look like a value of its type?

    >>> accept("HASH", "0C6DA25C81ABED8D32B51E5AA8E934EE")
    ('MD5', '0C6DA25C81ABED8D32B51E5AA8E934EE')
    >>> accept("DOMAIN", "192.0.2.7"), accept("DOMAIN", "WORKSTATION5")
    (('IP', '192.0.2.7'), None)

Canonical forms are the index's job (``trapline.indicators.normalize``); these tests
only keep out what can not be an indicator of the type (``-``, empty fields, a bare
host name, a path), so that lookups are spent on real candidates. Values keep their
spelling; surrounding white space, quotes and a trailing dot are dropped.
"""

from __future__ import annotations

from trapline.extract.model import DOMAIN, HASH, IP, MD5, SHA1, SHA256, URL

_HEX = "0123456789abcdefABCDEF"
_HASH_TYPES = {32: MD5, 40: SHA1, 64: SHA256}
_STRIP = " \t\r\n\"'"
_MAX_VALUE = 8192
# Characters no host name holds (IDN letters are fine).
_NOT_IN_NAME = frozenset(" \t\r\n/\\:@\"'<>|,;=*?#%&()[]{}!$^`~+")


def hash_type(value: str) -> str | None:
    """MD5, SHA1 or SHA256 for 32, 40 or 64 hex digits, else None."""
    kind = _HASH_TYPES.get(len(value))
    if kind is None or value.strip(_HEX):
        return None
    return kind


def is_ip(value: str) -> bool:
    """True for the shape of an IPv4 or IPv6 address or network (not a full parse)."""
    if ":" in value:
        return value.count(":") >= 2 and not value.strip(_HEX + ":./")
    return value.count(".") == 3 and not value.strip("0123456789./") and ".." not in value


def is_domain(value: str) -> bool:
    """True for a dotted name of two or more labels (no TLD check: a field says what it is)."""
    return (
        "." in value
        and len(value) <= 253
        and value[0] != "."
        and ".." not in value
        and _NOT_IN_NAME.isdisjoint(value)
    )


def accept(kind: str, value: str) -> tuple[str, str] | None:
    """``(type, value)`` if ``value`` looks like a ``kind`` value, else None.

    HASH resolves to MD5, SHA1 or SHA256; a DOMAIN that is an address becomes IP.
    """
    value = value.strip(_STRIP)
    if not value or value == "-" or len(value) > _MAX_VALUE:
        return None
    if kind == IP:
        if value[0] == "[" and value[-1] == "]":
            value = value[1:-1]
        return (IP, value) if is_ip(value) else None
    if kind == DOMAIN:
        value = value.rstrip(".")
        if not value:
            return None
        if is_ip(value):
            return (IP, value)
        return (DOMAIN, value) if is_domain(value) else None
    if kind == URL:
        # A path alone (``/index.html``) or a word has no host: not a URL indicator.
        if (value[0] == "/" and value[:2] != "//") or not ("." in value or ":" in value):
            return None
        return (URL, value)
    if kind == HASH:
        found = hash_type(value)
        return (found, value) if found is not None else None
    if kind in (MD5, SHA1, SHA256):
        return (kind, value) if hash_type(value) == kind else None
    return None
