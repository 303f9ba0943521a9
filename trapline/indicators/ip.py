"""IP addresses and networks: parsing every notation, canonical text, integer keys.

Bare values (feed lines, observables) accept dotted-quad IPv4 (zero-padded octets
are decimal, as feeds write them), any IPv6 text, and CIDRs in both families, also
with a netmask (``192.0.2.0/255.255.255.0``). URL hosts accept, in addition, the
WHATWG notations that browsers resolve: 1 to 4 parts, octal (``0177``) and hex
(``0x7f``) numbers, so ``0x7f.1`` is ``127.0.0.1``.

An IPv4-mapped IPv6 address (``::ffff:192.0.2.1``) *is* the IPv4 address: its
canonical form is ``192.0.2.1``, so a feed and an observable that use either
spelling meet on one key. A mapped network (``::ffff:192.0.2.0/120``) likewise
becomes ``192.0.2.0/24``.
"""

from __future__ import annotations

import ipaddress
import re
import socket

from trapline.indicators.errors import InvalidIndicator
from trapline.indicators.kinds import Indicator, Kind, make

_MAPPED_PREFIX = 0xFFFF << 32
_MAPPED_MASK = ((1 << 96) - 1) << 32
_DIGITS = frozenset("0123456789")
_PREFIX = re.compile(r"[0-9]{1,3}")


_DOTTED = re.compile(r"([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})")
_IPV6ISH = re.compile(r"\[?[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(?:%[^\]]*)?\]?")


def parse_dotted_ipv4(text: str) -> int | None:
    """Return the integer of a dotted-quad IPv4 address (decimal octets), else None."""
    try:
        # inet_pton takes exactly the canonical spelling (no zero padding), in C.
        return int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except (OSError, ValueError):
        return _padded_ipv4(text)


def _padded_ipv4(text: str) -> int | None:
    """A dotted quad with zero-padded octets (``001.002.003.004``), read as decimal."""
    match = _DOTTED.fullmatch(text)
    if match is None:
        return None
    a, b, c, d = (int(x) for x in match.groups())
    if a > 255 or b > 255 or c > 255 or d > 255:
        return None
    return (a << 24) | (b << 16) | (c << 8) | d


def _parse_number(part: str) -> int | None:
    if part[:2].lower() == "0x":
        digits = part[2:]
        if digits == "":
            return 0
        try:
            return int(digits, 16)
        except ValueError:
            return None
    if len(part) > 1 and part[0] == "0":
        return int(part[1:], 8) if all(c in "01234567" for c in part[1:]) else None
    return int(part) if part and _DIGITS.issuperset(part) else None


def parse_host_ipv4(text: str) -> int | None:
    """Return the integer of an IPv4 URL host in any WHATWG notation, else None.

    ``0x7f.1``, ``0177.0.0.1``, ``2130706433`` and ``127.1`` all give 127.0.0.1.
    """
    parts = text.split(".")
    if parts and parts[-1] == "":
        parts.pop()
    if not parts or len(parts) > 4:
        return None
    numbers = []
    for part in parts:
        number = _parse_number(part)
        if number is None:
            return None
        numbers.append(number)
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return value


def ipv4_text(value: int) -> str:
    """Dotted-quad text of an IPv4 integer."""
    return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


def ipv6_text(value: int) -> str:
    """RFC 5952 text of an IPv6 integer (compressed, lower-case)."""
    text = socket.inet_ntop(socket.AF_INET6, value.to_bytes(16, "big"))
    if "." in text:  # the C library writes IPv4-compatible forms (::1.2.3.4) its own way
        return str(ipaddress.IPv6Address(value))
    return text


def mapped_ipv4(value: int) -> int | None:
    """The IPv4 integer inside an IPv4-mapped IPv6 integer, else None."""
    if value & _MAPPED_MASK == _MAPPED_PREFIX:
        return value & 0xFFFFFFFF
    return None


def parse_ipv6(text: str) -> int | None:
    """Return the integer of an IPv6 address (brackets and zone id allowed), else None."""
    if text[:1] == "[" and text[-1:] == "]":
        text = text[1:-1]
    if "%" in text:
        text = text.split("%", 1)[0]
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    except (OSError, ValueError):
        pass
    if _IPV6ISH.fullmatch(text) is None:
        return None
    try:
        return int(ipaddress.IPv6Address(text))
    except ValueError:
        return None


def canonical_ip(text: str) -> Indicator | None:
    """Canonical ``ipv4``/``ipv6`` indicator of a bare address, or None if it is not one."""
    if ":" not in text:
        if not (text[:1].isdigit() and text[-1:].isdigit()):
            return None
        try:
            socket.inet_pton(socket.AF_INET, text)
            return make(Kind.IPV4, text)  # inet_pton takes only the canonical spelling
        except (OSError, ValueError):
            pass
        v4 = _padded_ipv4(text)
        return None if v4 is None else make(Kind.IPV4, ipv4_text(v4))
    v6 = parse_ipv6(text)
    if v6 is None:
        return None
    inner = mapped_ipv4(v6)
    if inner is not None:
        return make(Kind.IPV4, ipv4_text(inner))
    return make(Kind.IPV6, ipv6_text(v6))


def canonical_cidr(text: str) -> Indicator:
    """Canonical form of ``address/prefix`` (or ``address/netmask``).

    Host bits are cleared (``192.0.2.7/24`` is ``192.0.2.0/24``); a /32 or /128
    is the bare address; a mapped IPv6 network is the IPv4 network.
    """
    address, _, prefix = text.partition("/")
    if _PREFIX.fullmatch(prefix):
        fast = _fast_cidr(address, int(prefix))
        if fast is not None:
            return fast
    v4 = parse_dotted_ipv4(address)
    try:
        if v4 is not None:
            network = ipaddress.IPv4Network(f"{ipv4_text(v4)}/{prefix}", strict=False)
        else:
            v6 = parse_ipv6(address)
            if v6 is None:
                raise InvalidIndicator(text, "not an IP network")
            network = ipaddress.IPv6Network(f"{ipv6_text(v6)}/{prefix}", strict=False)
            base = int(network.network_address)
            inner = mapped_ipv4(base)
            if inner is not None and network.prefixlen >= 96:
                network = ipaddress.IPv4Network((inner, network.prefixlen - 96))
    except (ValueError, TypeError) as exc:
        raise InvalidIndicator(text, "not an IP network") from exc
    if network.prefixlen == network.max_prefixlen:
        kind = Kind.IPV4 if network.version == 4 else Kind.IPV6
        return make(kind, str(network.network_address))
    return make(Kind.CIDR, f"{network.network_address}/{network.prefixlen}")


def _fast_cidr(address: str, prefix: int) -> Indicator | None:
    """``canonical_cidr`` for a numeric prefix, without the ipaddress module (5x faster)."""
    v4 = parse_dotted_ipv4(address)
    if v4 is not None:
        if prefix > 32:
            return None
        network = v4 >> (32 - prefix) << (32 - prefix)
        if prefix == 32:
            return make(Kind.IPV4, ipv4_text(network))
        return make(Kind.CIDR, f"{ipv4_text(network)}/{prefix}")
    v6 = parse_ipv6(address)
    if v6 is None or prefix > 128:
        return None
    network = v6 >> (128 - prefix) << (128 - prefix)
    inner = mapped_ipv4(network)
    if inner is not None and prefix >= 96:
        return _fast_cidr(ipv4_text(inner), prefix - 96)
    if prefix == 128:
        return make(Kind.IPV6, ipv6_text(network))
    return make(Kind.CIDR, f"{ipv6_text(network)}/{prefix}")


def network_of(indicator: Indicator) -> tuple[int, int, int]:
    """``(version, network integer, prefix length)`` of a canonical IP or CIDR indicator."""
    if indicator.kind is Kind.IPV4:
        return 4, ipv4_int(indicator.value), 32
    if indicator.kind is Kind.IPV6:
        return 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, indicator.value), "big"), 128
    address, _, prefix = indicator.value.partition("/")
    if ":" in address:
        return 6, parse_ipv6(address) or 0, int(prefix)
    return 4, ipv4_int(address), int(prefix)


def ipv4_int(text: str) -> int:
    """Integer of a canonical dotted-quad address."""
    a, b, c, d = text.split(".")
    return (int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d)
