"""Domain names: canonical form (lower-case, Punycode, no trailing dot) and label walks.

IDN labels go through the same UTS #46 mapping a browser and the URL parser use
(``ada``), so ``тест.рф``, ``ТЕСТ.РФ`` and ``xn--e1aybc.xn--p1ai`` are one key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

import ada_url
from publicsuffixlist import PublicSuffixList

from trapline.indicators.errors import InvalidIndicator

_ASCII_NAME = re.compile(r"^[a-z0-9_.-]+$")
# Labels of 1-63 letters, digits, '_' and inner '-'; two or more; TLD not all digits.
_NAME = re.compile(
    r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+"
    r"(?=[a-z0-9_-]*[a-z_-])[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
)


def canonical_domain(text: str) -> str:
    """Canonical text of a domain name; raises InvalidIndicator if it is not one.

    A domain has at least two labels and a TLD that is not all digits.
    """
    name = text.strip().lower().rstrip(".")
    if not _ASCII_NAME.match(name):
        name = to_ascii(name)
    if len(name) > 253 or _NAME.fullmatch(name) is None:
        raise InvalidIndicator(text, "not a domain name")
    return name


def to_ascii(name: str) -> str:
    """Punycode form of an internationalized name (UTS #46, as browsers map it)."""
    try:
        encoded = ada_url.idna_to_ascii(name)
    except (ValueError, UnicodeError) as exc:
        raise InvalidIndicator(name, "not a valid internationalized name") from exc
    result = encoded.decode("ascii") if isinstance(encoded, bytes) else str(encoded)
    if not result:
        raise InvalidIndicator(name, "not a valid internationalized name")
    return result.lower().rstrip(".")


def parents(name: str) -> Iterator[str]:
    """The proper parent domains of ``name`` on label boundaries, nearest first.

    ``a.b.example.com`` gives ``b.example.com``, ``example.com``, ``com``.
    """
    index = name.find(".")
    while index != -1:
        name = name[index + 1 :]
        yield name
        index = name.find(".")


@lru_cache(maxsize=1)
def _public_suffixes() -> PublicSuffixList:
    return PublicSuffixList()


@lru_cache(maxsize=65536)
def is_public_suffix(name: str) -> bool:
    """True if ``name`` is itself on the bundled Public Suffix List (``co.uk``, ``github.io``)."""
    return bool(_public_suffixes().is_public(name))
