"""Canonical URLs under the vendor's normalization rules (protocol.md, section 3).

The WHATWG parser (``ada``) does the parts browsers agree on: IDN to Punycode,
IPv4 hosts in any notation, canonical IPv6, dot segments, ``\\`` as ``/``. The
vendor's rules follow: no scheme, user info or port; host lower-case without
repeated, leading or trailing dots and without a leading ``www.``; path
percent-decoded and lower-case with ``//`` collapsed; query unescaped and
lower-case; no fragment; no trailing ``/``, ``?`` or ``/.``. A ``/`` before a
non-empty query is kept, as the vendor's reference normalizer keeps it:
``https://www.example.com:443/?q=hello%20world#fragment`` is
``example.com/?q=hello world``.
"""

from __future__ import annotations

import re
import socket
from typing import NamedTuple
from urllib.parse import quote, unquote

import ada_url

from trapline.indicators.errors import InvalidIndicator
from trapline.indicators.ip import ipv4_text, ipv6_text, mapped_ipv4, parse_host_ipv4, parse_ipv6
from trapline.indicators.refang import refang

# Schemes that are dropped when a value starts with ``scheme:``; anything else
# before a colon is a host (``example.com:8080/x``).
SCHEMES = frozenset({
    "http", "https", "ftp", "ftps", "sftp", "tftp", "ws", "wss", "tcp", "udp", "ssh", "telnet",
    "smb", "cifs", "ldap", "ldaps", "rtsp", "rtmp", "mms", "irc", "ircs", "git", "svn", "nntp",
    "news", "gopher", "imap", "imaps", "pop", "pop3", "pop3s", "smtp", "smtps", "rdp", "vnc",
    "dns", "socks", "socks4", "socks5", "feed", "hxxp", "hxxps",
})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_DOTS = re.compile(r"\.{2,}")
SLASHES = re.compile(r"/{2,}")
_HOST_END = re.compile(r"[/?]")
_AUTHORITY_END = re.compile(r"[/\\?#]")
_NEEDS_ESCAPE = re.compile(r"[\x00-\x1f\x7f#]|%(?=[0-9A-Fa-f]{2})")
_PATH_NEEDS_ESCAPE = re.compile(r"[\x00-\x1f\x7f#?]|%(?=[0-9A-Fa-f]{2})")


class HostKind:
    """How a URL host is spelled: a domain name, an IPv4 or an IPv6 address."""

    DOMAIN = "domain"
    IPV4 = "ipv4"
    IPV6 = "ipv6"


class CanonicalURL(NamedTuple):
    """A canonical URL (``host/path?query``) and its host split out."""

    value: str
    host: str
    host_kind: str


def split_canonical(value: str) -> CanonicalURL:
    """Split an already canonical URL into host and kind without normalizing again."""
    if value.startswith("["):
        end = value.find("]") + 1
        return CanonicalURL(value, value[:end], HostKind.IPV6)
    match = _HOST_END.search(value)
    host = value[: match.start()] if match else value
    if host[-1:].isdigit():  # a canonical domain's last label has a letter
        try:
            socket.inet_pton(socket.AF_INET, host)
            return CanonicalURL(value, host, HostKind.IPV4)
        except OSError:
            pass
    return CanonicalURL(value, host, HostKind.DOMAIN)


def strip_scheme(text: str) -> str:
    """Drop a leading ``scheme:`` (known schemes only) and the slashes after it.

    Without a scheme, one leading slash starts a path (``/dp/x`` has no host) and
    is kept; two start an authority (``//host/x``).
    """
    match = _SCHEME.match(text)
    if match and match.group(1).lower() in SCHEMES:
        text = text[match.end() :]
    elif text[:1] in ("/", "\\") and text[1:2] not in ("/", "\\"):
        return text
    return text.lstrip("/\\")


def split_authority(text: str) -> tuple[str, str]:
    """Split ``user@host:port/rest`` into the bare host and the rest (``/rest``)."""
    match = _AUTHORITY_END.search(text)
    authority, rest = (text[: match.start()], text[match.start() :]) if match else (text, "")
    authority = authority.rpartition("@")[2]
    if authority.startswith("["):
        end = authority.find("]")
        return (authority[: end + 1] if end != -1 else authority), rest
    if authority.count(":") == 1:
        authority = authority.partition(":")[0]
    return authority, rest


def canonical_host(host: str, *, strip_www: bool = True) -> tuple[str, str]:
    """Canonical text and kind of a URL host (already parsed by the WHATWG rules)."""
    if host.startswith("["):
        v6 = parse_ipv6(host)
        if v6 is None:
            raise InvalidIndicator(host, "not a valid IPv6 host")
        inner = mapped_ipv4(v6)
        if inner is not None:
            return ipv4_text(inner), HostKind.IPV4
        return f"[{ipv6_text(v6)}]", HostKind.IPV6
    host = _DOTS.sub(".", host.lower()).strip(".")
    if strip_www:
        host = without_www(host)
    v4 = parse_host_ipv4(host)
    if v4 is not None:
        return ipv4_text(v4), HostKind.IPV4
    if not host:
        raise InvalidIndicator(host, "empty host")
    return host, HostKind.DOMAIN


def _protect(text: str, pattern: re.Pattern[str] = _NEEDS_ESCAPE) -> str:
    """Re-escape what a second parse would read differently, so canonical forms are fixed points.

    Control characters, ``#`` (and in a path ``?``) and a ``%`` that starts an escape
    (``%41``) are written as escapes again; everything else stays decoded.
    """
    if pattern.search(text):
        text = pattern.sub(lambda m: f"%{ord(m.group(0)[0]):02x}" + m.group(0)[1:], text)
    return text


def escape_trailing_space(text: str) -> str:
    """Escape trailing whitespace, which a second parse would strip (``a%20``)."""
    if not text[-1:].isspace():
        return text
    stripped = text.rstrip()
    return stripped + quote(text[len(stripped):], safe="")


def without_www(host: str) -> str:
    """A host without its leading ``www.``, unless what remains has no dot (``www.com``)."""
    return host[4:] if host.startswith("www.") and "." in host[4:] else host


def parse_host(host: str, *, strip_www: bool = True) -> tuple[str, str]:
    """Canonical text and kind of a bare host as the WHATWG parser and the vendor rules read it."""
    host = _DOTS.sub(".", host)
    if not host.strip("."):
        raise InvalidIndicator(host, "empty host")
    try:
        parsed = ada_url.URL("http://" + host + "/")
    except ValueError as exc:
        raise InvalidIndicator(host, "not a valid host") from exc
    return canonical_host(parsed.hostname, strip_www=strip_www)


def decode_path(path: str) -> str:
    """Percent-decode and lower-case a path, with ``\\`` as ``/`` and no ``//``.

    A decoded ``?`` stays escaped (``%3f``): it is part of the path, not a query.
    """
    path = unquote(path, errors="replace").replace("\\", "/").lower()
    return SLASHES.sub("/", _protect(path, _PATH_NEEDS_ESCAPE))


def decode_query(query: str) -> str:
    """Unescape and lower-case a query (``+`` stays ``+``; ``%00`` and NUL are dropped)."""
    decoded = unquote(query.replace("%00", ""), errors="replace").replace("\x00", "")
    return _protect(decoded.lower())


# A URL already in the shape every rule would leave alone except for the scheme,
# ``www.``, port and a trailing ``/``: lower-case ASCII host whose last label starts
# with a letter (so it is no IPv4 number) and no Punycode to validate; path and
# query of characters that are neither escaped, decoded nor lower-cased.
SIMPLE_HOST = r"(?:[a-z0-9_-]+\.)+[a-z][a-z0-9_-]*"
_SIMPLE = re.compile(
    r"(?:(?:https?|ftp)://)?"
    rf"({SIMPLE_HOST})(?::[0-9]{{1,5}})?"
    r"((?:/[a-z0-9_~.!$&'()*+,;=:@-]*)*)"
    r"(\?[a-z0-9_~.!$&'()*+,;=:@/?-]*)?"
)
_DOT_SEGMENT = re.compile(r"/\.\.?(?:/|$)|//")


def _simple_url(text: str) -> CanonicalURL | None:
    match = _SIMPLE.fullmatch(text)
    if match is None:
        return None
    host, path, query = match.group(1), match.group(2), match.group(3) or ""
    if "xn--" in host or _DOT_SEGMENT.search(path):
        return None
    return _assemble(without_www(host), HostKind.DOMAIN, path, path, query[1:])


def _assemble(host: str, host_kind: str, raw_path: str, path: str, query: str) -> CanonicalURL:
    out = host
    path = path.strip("/")
    if path:
        out += "/" + path
    if query:
        if raw_path.endswith("/"):
            out += "/"
        out += "?" + query
    if "//" in out:
        out = SLASHES.sub("/", out)
    while True:
        trimmed = out.removesuffix("/.").removesuffix("?").removesuffix("/")
        if trimmed == out:
            break
        out = trimmed
    return CanonicalURL(escape_trailing_space(out), host, host_kind)


def canonical_url(text: str) -> CanonicalURL:
    """Canonical form of a URL; raises InvalidIndicator when it has no usable host."""
    text = refang(text)
    # Every rule lower-cases host, path and query alike, so an ASCII URL may be
    # lower-cased whole before the fast path looks at it.
    simple = _simple_url(text.lower()) if text.isascii() else None
    return simple if simple is not None else parsed_url(text)


def parsed_url(text: str) -> CanonicalURL:
    """The general path of ``canonical_url``: the WHATWG parser, then the vendor rules."""
    stripped = strip_scheme(text.strip())
    host, rest = split_authority(stripped)
    host = _DOTS.sub(".", host)
    if not host.strip("."):
        raise InvalidIndicator(text, "URL without a host")
    try:
        # One call for the whole serialization: each attribute costs a C round trip.
        href = ada_url.URL("http://" + host + rest).href
    except ValueError as exc:
        raise InvalidIndicator(text, "not a valid URL") from exc
    parsed_host, _, tail = href[7:].partition("/")
    tail = "/" + tail.partition("#")[0]
    raw_path, mark, raw_query = tail.partition("?")
    host_text, host_kind = canonical_host(parsed_host)
    query = decode_query(raw_query) if mark else ""
    # The parser serializes an empty path as "/"; the vendor keeps a "/" before the
    # query only when the URL had a path (``a.example?q=1`` vs ``a.example/?q=1``).
    written_path = rest.split("?", 1)[0].split("#", 1)[0]
    slash_path = raw_path if written_path else ""
    return _assemble(host_text, host_kind, slash_path, decode_path(raw_path), query)
