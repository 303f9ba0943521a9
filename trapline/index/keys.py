"""Binary keys per key space: how the index spells a canonical indicator.

Key spaces (one LMDB sub-database each): ``hash`` (raw digest), ``ip`` (addresses)
and ``cidr`` (networks), both as one byte of prefix length and 4 or 16 address
bytes, ``name`` (a host name or IP host:
everything anchored at it, see NameEntry), ``url`` (canonical URLs with a path or
query; over MAX_TEXT_KEY bytes a BLAKE2b digest behind a 0 byte) and ``pmask``
(canonical text of a mask with wildcards in its host) and ``email`` (canonical
e-mail addresses, as text keys).
"""

from __future__ import annotations

import hashlib

SPACES = ("hash", "ip", "cidr", "name", "url", "pmask", "email")
MAX_TEXT_KEY = 480


def text_key(text: str) -> bytes:
    """Key of a canonical text value; long values are replaced by their digest."""
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= MAX_TEXT_KEY:
        return raw
    return b"\x00" + hashlib.blake2b(raw, digest_size=20).digest()


def ip_key(version: int, network: int, prefix: int) -> bytes:
    """Key of an address (prefix 32/128) or network in the ``ip`` space."""
    return bytes((prefix,)) + network.to_bytes(4 if version == 4 else 16, "big")


def hash_key(hex_digest: str) -> bytes:
    """Key of a hash: its raw digest (16, 20 or 32 bytes)."""
    return bytes.fromhex(hex_digest)
