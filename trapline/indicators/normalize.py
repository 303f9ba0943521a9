"""One entry point that turns any bare value into a canonical, typed indicator.

Feed values and observed values pass through the same function, so the index
stores canonical keys only and a lookup meets them on the same spelling.
"""

from __future__ import annotations

import re

from trapline.indicators.domain import canonical_domain
from trapline.indicators.email import EMAIL_SHAPE, canonical_email
from trapline.indicators.errors import InvalidIndicator
from trapline.indicators.hashes import hash_kind
from trapline.indicators.ip import canonical_cidr, canonical_ip
from trapline.indicators.kinds import HASH_KINDS, Indicator, Kind, make
from trapline.indicators.masks import HostMode, canonical_mask, is_mask, shape_of
from trapline.indicators.refang import refang
from trapline.indicators.url import canonical_url

_CIDR = re.compile(r"^[0-9A-Fa-f:.]+/[0-9.]+$")
_URLISH = re.compile(r"[/?#@:\\]")
MAX_LENGTH = 8192
_KINDS: dict[str, Kind] = {kind.value: kind for kind in Kind}


def normalize(value: str, kind: Kind | str | None = None) -> Indicator:
    """Canonical indicator of ``value``, of the given kind or of the kind detected.

    Values are refanged first. Raises InvalidIndicator when the value is not an
    indicator (of that kind).
    """
    text = refang(value.strip())
    if not text:
        raise InvalidIndicator(value, "empty value")
    if len(text) > MAX_LENGTH:
        raise InvalidIndicator(value, f"longer than {MAX_LENGTH} characters")
    if kind is None:
        return _detect(text, value)
    known = _KINDS.get(kind)
    if known is None:
        raise InvalidIndicator(value, f"unknown kind {kind!r}")
    return _as_kind(text, known, value)


def normalize_observable(value: str) -> Indicator:
    """Like ``normalize``, for a value seen in traffic rather than written in a feed.

    A ``*`` in the path of an observed URL is a character, not a wildcard: a value
    that reads as a mask with a literal host is the URL. (``*.evil.example`` and
    other host patterns stay masks: no observed host has a ``*``.)
    """
    indicator = normalize(value)
    if indicator.kind is Kind.URL_MASK and shape_of(indicator.value).mode == HostMode.EXACT:
        try:
            return make(Kind.URL, canonical_url(refang(value.strip())).value)
        except InvalidIndicator:
            return indicator
    return indicator


def detect_kind(value: str) -> Kind | None:
    """The kind of a bare value, or None when it is not an indicator."""
    try:
        return normalize(value).kind
    except InvalidIndicator:
        return None


def _detect(text: str, original: str) -> Indicator:
    # Cheapest tests first: most observables are hashes, addresses and names.
    kind = hash_kind(text)
    if kind is not None:
        return make(kind, text.lower())
    if is_mask(text):
        return make(Kind.URL_MASK, canonical_mask(text).text)
    urlish = _URLISH.search(text) is not None
    if not urlish:
        ip = canonical_ip(text)
        if ip is not None:
            return ip
        try:
            return make(Kind.DOMAIN, canonical_domain(text))
        except InvalidIndicator:
            raise InvalidIndicator(original, "not an indicator") from None
    if _CIDR.match(text):
        return canonical_cidr(text)
    if "@" in text and EMAIL_SHAPE.match(text):
        return make(Kind.EMAIL, canonical_email(text))
    if ":" in text:
        ip = canonical_ip(text)
        if ip is not None:
            return ip
    return make(Kind.URL, canonical_url(text).value)


def _as_kind(text: str, kind: Kind, original: str) -> Indicator:
    if kind in HASH_KINDS:
        if hash_kind(text) is not kind:
            raise InvalidIndicator(original, f"not an {kind} hash")
        return make(kind, text.lower())
    if kind is Kind.URL:
        return make(Kind.URL, canonical_url(text).value)
    if kind is Kind.URL_MASK:
        return make(Kind.URL_MASK, canonical_mask(text).text)
    if kind is Kind.DOMAIN:
        return make(Kind.DOMAIN, canonical_domain(text))
    if kind is Kind.EMAIL:
        return make(Kind.EMAIL, canonical_email(text))
    if kind is Kind.CIDR:
        return canonical_cidr(text if "/" in text else text + ("/128" if ":" in text else "/32"))
    ip = canonical_ip(text)
    # An IPv4-mapped IPv6 address is its IPv4 address, whichever of the two was asked.
    if ip is None or (kind is Kind.IPV4 and ip.kind is not Kind.IPV4) or (
            kind is Kind.IPV6 and ":" not in text):
        raise InvalidIndicator(original, f"not an {kind} address")
    return ip
