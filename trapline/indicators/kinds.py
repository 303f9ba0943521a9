"""The kinds of indicator trapline understands, and the canonical value type."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Kind(StrEnum):
    """An indicator kind; the string value is what feeds, the CLI and the API use."""

    IPV4 = "ipv4"
    IPV6 = "ipv6"
    CIDR = "cidr"
    DOMAIN = "domain"
    URL = "url"
    URL_MASK = "url-mask"
    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"
    EMAIL = "email"


HASH_KINDS = frozenset({Kind.MD5, Kind.SHA1, Kind.SHA256})
IP_KINDS = frozenset({Kind.IPV4, Kind.IPV6, Kind.CIDR})


class Indicator(NamedTuple):
    """A value in canonical form together with its kind."""

    kind: Kind
    value: str

    def __str__(self) -> str:
        return self.value


def make(kind: Kind, value: str) -> Indicator:
    """``Indicator(kind, value)`` without the NamedTuple constructor's overhead (hot paths)."""
    return tuple.__new__(Indicator, (kind, value))
