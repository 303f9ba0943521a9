"""Which network addresses a feed download may connect to (the SSRF policy).

A feed URL comes from configuration that may be edited through the API, and a
feed server may redirect anywhere: without a policy, a feed could read the
cloud metadata service or an internal admin page. So every address a download
connects to is vetted *after* DNS resolution, at connect time, on every
redirect hop (trapline.feeds.http_fetch calls ``resolve`` from its network
backend and connects to the vetted address only, which also defeats DNS
rebinding).

Refused unless ``allow_private``: loopback, private (RFC 1918, ULA fc00::/7),
link-local (169.254/16, fe80::/10), CGNAT shared space (100.64/10), unspecified,
multicast, reserved, and anything else Python does not call globally routable,
also when embedded in an IPv6 form (IPv4-mapped ``::ffff:127.0.0.1``,
IPv4-compatible, 6to4, Teredo, NAT64). Cloud metadata addresses are refused
even then: no feed lives there.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from trapline.errors import FeedFetchError, FeedRefused

__all__ = ["METADATA_ADDRESSES", "AddressPolicy", "literal_address"]

IPAddress = IPv4Address | IPv6Address
Resolver = Callable[[str, int], list[str]]

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",   # AWS, Azure, GCP, Oracle, OpenStack, DigitalOcean
    "169.254.170.2",     # AWS ECS task metadata
    "fd00:ec2::254",     # AWS IMDS over IPv6
    "100.100.100.200",   # Alibaba Cloud
    "168.63.129.16",     # Azure wire server (a public address)
))
_CGNAT = IPv4Network("100.64.0.0/10")
_NAT64 = (IPv6Network("64:ff9b::/96"), IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = IPv6Network("::/96")
_IPV4ISH = re.compile(r"^[0-9a-fA-FxX.]+$")


def literal_address(host: str) -> IPAddress | None:
    """The address a URL host spells, in any form a resolver accepts, or None for a name.

    Catches the spellings C's ``inet_aton`` accepts and ``ipaddress`` does not:
    ``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``.
    """
    host = host.strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if _IPV4ISH.match(host) and any(c.isdigit() for c in host):
        try:
            return IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _embedded_ipv4(ip: IPv6Address) -> list[IPv4Address]:
    found = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip.teredo:
        found.extend(ip.teredo)
    if ip in _IPV4_COMPATIBLE or any(ip in net for net in _NAT64):
        found.append(IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _category(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address, or None when it is one."""
    if isinstance(ip, IPv6Address) and not (ip.is_loopback or ip.is_unspecified):
        if ip.ipv4_mapped is not None:  # the IPv4 address itself, on a dual-stack socket
            return _category(ip.ipv4_mapped)
        if any(ip in net for net in _NAT64):  # DNS64 answers: the IPv4 address decides
            return _category(IPv4Address(int(ip) & 0xFFFFFFFF))
        for inner in _embedded_ipv4(ip):
            reason = _category(inner)
            if reason:
                return f"embeds {inner}, {reason}"
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("CGNAT shared", isinstance(ip, IPv4Address) and ip in _CGNAT),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("site-local", isinstance(ip, IPv6Address) and ip.is_site_local),
        ("not globally routable", not ip.is_global),
    )
    return next((f"{name} address" for name, hit in checks if hit), None)


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class AddressPolicy:
    """Vets the addresses a download may connect to; see the module docstring.

    ``allowed`` networks pass despite the rules (metadata addresses excepted):
    tests use it to serve from 127.0.0.1 while everything else stays refused.
    ``resolver`` maps ``(host, port)`` to address strings (``socket.getaddrinfo``
    by default; tests swap it to simulate DNS answers).
    """

    def __init__(self, *, allow_private: bool = False,
                 allowed: Iterable[IPv4Network | IPv6Network | str] = (),
                 resolver: Resolver | None = None) -> None:
        self.allow_private = allow_private
        self.allowed = tuple(ipaddress.ip_network(n) for n in allowed)
        self._resolver = resolver or _system_resolver

    def reason(self, ip: IPAddress) -> str | None:
        """Why a connection to ``ip`` is refused, or None when it is allowed."""
        if isinstance(ip, IPv6Address) and ip.scope_id:
            ip = IPv6Address(str(ip).split("%", 1)[0])
        embedded = _embedded_ipv4(ip) if isinstance(ip, IPv6Address) else []
        if ip in METADATA_ADDRESSES or any(a in METADATA_ADDRESSES for a in embedded):
            return "a cloud metadata address, always refused"
        if self.allow_private or any(ip in net for net in self.allowed):
            return None
        category = _category(ip)
        return f"{category}; set http.allow_private = true to allow it" if category else None

    def check(self, host: str, ip: IPAddress) -> None:
        """Raise FeedRefused when ``host``'s address ``ip`` is refused."""
        why = self.reason(ip)
        if why:
            shown = host if host.strip("[]") == str(ip) else f"{host} ({ip})"
            raise FeedRefused(f"refused to connect to {shown}: {why}")

    def check_literal(self, host: str) -> None:
        """Refuse a URL host that spells a refused address, before any DNS or connection."""
        ip = literal_address(host)
        if ip is not None:
            self.check(host, ip)

    def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of ``host``, every one vetted; FeedRefused if any is refused.

        All answers must pass, not just one: a name that resolves to a public
        and a private address is refused rather than raced.
        """
        ip = literal_address(host)
        if ip is not None:
            self.check(host, ip)
            return [str(ip)]
        try:
            answers = self._resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise FeedFetchError(f"cannot resolve {host}: {exc}") from None
        if not answers:
            raise FeedFetchError(f"cannot resolve {host}: no addresses")
        for answer in answers:
            self.check(host, ipaddress.ip_address(answer.split("%", 1)[0]))
        return answers
