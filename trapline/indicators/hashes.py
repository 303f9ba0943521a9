"""File hashes: lower-case hex, the kind follows from the length."""

from __future__ import annotations

from trapline.indicators.kinds import Kind

HASH_LENGTHS = {32: Kind.MD5, 40: Kind.SHA1, 64: Kind.SHA256}
_HEX = frozenset("0123456789abcdefABCDEF")


def hash_kind(text: str) -> Kind | None:
    """The hash kind of a hex string of 32, 40 or 64 characters, else None."""
    kind = HASH_LENGTHS.get(len(text))
    if kind is None or not _HEX.issuperset(text):
        return None
    return kind
