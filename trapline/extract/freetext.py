"""Indicators in free text: URLs, IPv4 and IPv6 addresses, domain names, file hashes.

    out = Collector()
    scan_text("GET hxxp://evil[.]example/a from 192.0.2.7, dropped fantasy35.exe", out)
    [o.value for o in out.observables]   # ['http://evil.example/a', '192.0.2.7']

How the text is read:

- It is refanged first (``hxxp``, ``[.]``, ``(.)``, ``{.}``, ``[dot]``, ``[:]``).
- URLs: a scheme (``http``, ``https``, ``ftp``, ``sftp``, ``ws``, ``wss``), ``://`` and
  everything up to white space, a quote, ``<``, ``>``, a backtick, ``{``, ``}``, ``|``,
  ``\\`` or ``^``; trailing ``.,;:!?'"`` (and an unbalanced ``)``) are left out.
  Names and addresses inside a URL are not reported again on their own.
- The rest is cut into words at white space and punctuation (quotes, brackets,
  ``=``, ``,``, ``;``, ``|``, ``@``...). In a word, whatever follows a ``/`` or ``\\``
  is a path: ``Chrome/32.0.170.77`` and ``C:\\x\\evil.com`` hold no address or name,
  ``198.51.100.0/24`` and ``evil.example/a`` do. A ``:`` separates a port
  (``192.0.2.7:443``) unless the word is an IPv6 address.
- A word is an IPv4 address (four decimal octets, no leading zeros), an IPv6
  address (with ``::`` or eight groups), a domain name (labels of letters, digits,
  ``-`` and ``_``, and a last label that is a real top-level domain, see
  ``trapline.extract.tld``: ``fantasy35.exe`` is not a domain, ``secretsdump.py``
  is, ``.py`` being Paraguay), or holds a hash: 32, 40 or 64 hex digits between
  word edges (also in a path: ``/files/<sha256>.bin``).

Values come out in text order. Nothing here can backtrack more than a word's length.
"""

from __future__ import annotations

import ipaddress
import re

from trapline.extract.collector import Collector
from trapline.extract.model import DOMAIN, IP, URL
from trapline.extract.tld import top_level_domains
from trapline.extract.values import hash_type

_DEFANG = re.compile(r"\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\[:\]|\[://\]", re.IGNORECASE)
_DEFANGED = {"[.]": ".", "(.)": ".", "{.}": ".", "[dot]": ".", "(dot)": ".", "[:]": ":",
             "[://]": "://"}
_HXXP = re.compile(r"(?<![A-Za-z])hxxp(s?)://", re.IGNORECASE)

_SCHEME = re.compile(r"(?<![\w.+-])(?:https?|s?ftp|wss?)\Z", re.IGNORECASE)
_URL_BODY = re.compile(r"[^\s\"'<>`{}|\\^]+")
_URL_TAIL = ".,;:!?'\""

# Word breaks: white space and punctuation that no candidate holds. A head is the part
# of a word before any '/' or '\\' (what follows is a path), found only if it holds a
# '.' or ':'; the lookbehind admits only starts right after a break.
_BREAKS = re.escape("\"'`<>()[]{},;=|@!?#$%^&*+~")
_HEAD = re.compile(rf"(?<![^\s{_BREAKS}])[^\s{_BREAKS}/\\.:]*[.:][^\s{_BREAKS}/\\]*")
_HASH = re.compile(r"(?<!\w)(?:[0-9A-Fa-f]{64}|[0-9A-Fa-f]{40}|[0-9A-Fa-f]{32})(?!\w)")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_DOMAIN = re.compile(
    r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+(?:xn--[a-z0-9-]{1,59}|[a-z]{2,63})",
    re.IGNORECASE,
)


def refang_text(text: str) -> str:
    """``text`` with the usual defanging undone (``hxxp``, ``[.]``, ``(.)``, ``[:]``...)."""
    lower = text.lower()
    if ("[." in lower or "(." in lower or "{." in lower or "[:" in lower or "dot]" in lower
            or "dot)" in lower):
        text = _DEFANG.sub(lambda m: _DEFANGED[m.group(0).lower()], text)
    if "hxxp" in lower:
        text = _HXXP.sub(lambda m: "http" + m.group(1).lower() + "://", text)
    return text


def scan_text(text: str, out: Collector, *, rule: str | None = None) -> None:
    """Offer every URL, IP address, domain name and hash in ``text``, in text order.

    Values are captured and named by their type (``URL``, ``IP``, ``DOMAIN``, ``MD5``,
    ``SHA1``, ``SHA256``), or all by ``rule`` when it is given.
    """
    text = refang_text(text)
    start = 0
    if "://" in text:
        for url_start, url_end, url in _urls(text):
            _scan_words(text[start:url_start], out, rule)
            out.found(rule or "URL", URL, url)
            start = url_end
    _scan_words(text[start:] if start else text, out, rule)


def _urls(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, value)`` of every URL in ``text``, in order (linear in its length)."""
    found: list[tuple[int, int, str]] = []
    pos = text.find("://")
    while pos != -1:
        scheme = _SCHEME.search(text, max(0, pos - 5), pos)
        end = pos + 3
        if scheme is not None:
            body = _URL_BODY.match(text, end)
            if body is not None:
                value = text[scheme.start():body.end()].rstrip(_URL_TAIL)
                if value.endswith(")") and "(" not in value:
                    value = value.rstrip(")")
                if scheme.start() + len(value) > end:
                    found.append((scheme.start(), scheme.start() + len(value), value))
                end = max(end, body.end())
        pos = text.find("://", end)
    return found


def _scan_words(text: str, out: Collector, name: str | None) -> None:
    for word in text.split():
        if len(word) >= 32:
            found = _hashes(word)
            if found:
                if "." in word or ":" in word:
                    found += [(m.start(), f) for m in _HEAD.finditer(word)
                              for f in _head(m.group(0))]
                    found.sort(key=_first)
                for _, (rule, kind, value) in found:
                    out.found(name or rule, kind, value)
                continue
        if "." in word or ":" in word:
            for head in _HEAD.findall(word):
                for rule, kind, value in _head(head):
                    out.found(name or rule, kind, value)


def _first(item: tuple[int, object]) -> int:
    return item[0]


def _head(head: str) -> list[tuple[str, str, str]]:
    """The address or name a word's head is, if any (a ':' may separate a port)."""
    if ":" in head:
        if ("::" in head or head.count(":") == 7) and _is_ipv6(head):
            return [("IP", IP, head)]
        return [found for part in head.split(":") for found in _head(part)]
    head = head.strip(".")
    if len(head) < 4 or "." not in head:
        return []
    if head[0].isdigit() and _IPV4.fullmatch(head) is not None:
        return [("IP", IP, head)]
    if _DOMAIN.fullmatch(head) is not None and \
            head[head.rfind(".") + 1:].lower() in top_level_domains():
        return [("DOMAIN", DOMAIN, head)]
    return []


def _hashes(word: str) -> list[tuple[int, tuple[str, str, str]]]:
    found = []
    for m in _HASH.finditer(word):
        value = m.group(0)
        kind = hash_type(value)
        if kind is not None:
            found.append((m.start(), (kind, kind, value)))
    return found


def _is_ipv6(value: str) -> bool:
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True
