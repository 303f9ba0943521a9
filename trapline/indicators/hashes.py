"""File hashes: lower-case hex, the kind follows from the length."""

from __future__ import annotations

import re

from trapline.indicators.kinds import Kind

HASH_LENGTHS = {32: Kind.MD5, 40: Kind.SHA1, 64: Kind.SHA256}
_HEX = re.compile(r"[0-9a-fA-F]+")


def hash_kind(text: str) -> Kind | None:
    """The hash kind of a hex string of 32, 40 or 64 characters, else None."""
    kind = HASH_LENGTHS.get(len(text))
    if kind is None or _HEX.fullmatch(text) is None:
        return None
    return kind
