"""Cheap shape checks: does a captured value look like a value of its type?

    >>> accept("HASH", "0C6DA25C81ABED8D32B51E5AA8E934EE")
    ('MD5', '0C6DA25C81ABED8D32B51E5AA8E934EE')
    >>> accept("DOMAIN", "192.0.2.7"), accept("DOMAIN", "WORKSTATION5")
    (('IP', '192.0.2.7'), None)
    >>> accept("DOMAIN", "hvMA+q/x=.srv.tunnel.example")
    ('DOMAIN', 'srv.tunnel.example')

Canonical forms are the index's job (``trapline.indicators.normalize``); these tests
only keep out what can not be an indicator of the type (``-``, empty fields, a bare
host name, a path), so that lookups are spent on real candidates. Values keep their
spelling; surrounding white space, quotes and a trailing dot are dropped, and a name
field's value is cut to its name (``name_part``).
"""

from __future__ import annotations

import re

from trapline.extract.model import DOMAIN, HASH, IP, MD5, SHA1, SHA256, URL

_HEX = "0123456789abcdefABCDEF"
_HASH_TYPES = {32: MD5, 40: SHA1, 64: SHA256}
_STRIP = " \t\r\n\"'"
_MAX_VALUE = 8192
# Characters no host name holds (IDN letters are fine).
_NOT_IN_NAME = frozenset(" \t\r\n/\\:@\"'<>|,;=*?#%&()[]{}!$^`~+")
_SPACE = frozenset(" \t\r\n")
_ALNUM = re.compile(r"[^\W_]")


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


def name_part(value: str) -> str | None:
    """The domain name in a name field's value, or None.

    ``host:port`` loses the port. A name with labels no domain holds (the payload of a
    DNS tunnel, ``hvMA+x/y=.srv.tunnel.example``) keeps the labels after the last such
    one, so that its parent domains can still match; white space disqualifies it.
    """
    if value.count(":") == 1:
        value = value[:value.index(":")]
    if is_domain(value):
        return value
    if _SPACE.isdisjoint(value) and not _NOT_IN_NAME.isdisjoint(value):
        last = max(value.rfind(c) for c in _NOT_IN_NAME.intersection(value))
        cut = value.find(".", last)
        if cut != -1 and is_domain(value[cut + 1:]):
            return value[cut + 1:]
    return None


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
        name = value if is_domain(value) else name_part(value)
        return (DOMAIN, name) if name is not None else None
    if kind == URL:
        # A path alone (``/index.html``) or a word has no host: not a URL indicator.
        if (value[0] == "/" and value[:2] != "//") or not ("." in value or ":" in value) \
                or _ALNUM.search(value) is None:
            return None
        return (URL, value)
    if kind == HASH:
        found = hash_type(value)
        return (found, value) if found is not None else None
    if kind in (MD5, SHA1, SHA256):
        return (kind, value) if hash_type(value) == kind else None
    return None
