r"""Preset ``cef``: ArcSight Common Event Format, with or without a syslog header.

    CEF:0|Vendor|Proxy|1.0|100|Blocked|5|src=10.0.0.5 dst=203.0.113.9 dhost=evil.example
    request=http://evil.example/a?b\=c fileHash=44d88612fea8a8f36de82e1278abb02f

yields ``IP 10.0.0.5``, ``IP 203.0.113.9``, ``DOMAIN evil.example``,
``URL http://evil.example/a?b=c``, ``MD5 44d88612fea8a8f36de82e1278abb02f``.

The seven header fields are captured as cef_version, device_vendor, device_product,
device_version, signature_id, name and severity (``\|`` and ``\\`` unescaped). In the
extension a key is a word followed by ``=`` after a space; its value runs to the
next key, so values may hold spaces; ``\=``, ``\\``, ``\n`` and ``\r`` are unescaped.
Every key is captured under its own name; these are also observables (rule = key):

- IP: src, dst, sourceAddress, destinationAddress, sourceTranslatedAddress,
  destinationTranslatedAddress, c6a2, c6a3 (source and destination IPv6)
- DOMAIN (an address there becomes IP): shost, dhost, sourceHostName,
  destinationHostName, sourceDnsDomain, destinationDnsDomain
- URL: request, requestURL
- hashes by length: fileHash, oldFileHash

A line without a ``CEF:`` header is read as free text (the ``generic`` preset).
"""

from __future__ import annotations

import re

from trapline.extract.collector import Collector
from trapline.extract.freetext import scan_text
from trapline.extract.model import DOMAIN, HASH, IP, URL
from trapline.extract.rules import RuleSet

# A header field: anything but '|' and '\\', or an escaped character (unrolled: linear).
_FIELD = r"([^|\\]*(?:\\.[^|\\]*)*)\|"
_HEADER = re.compile(r"CEF:\s*([0-9.]*)\|" + _FIELD * 6)
_HEADER_NAMES = ("cef_version", "device_vendor", "device_product", "device_version",
                 "signature_id", "name", "severity")
_KEY = re.compile(r"[\w.\-\[\]]+")
_ESCAPE = re.compile(r"\\(.)")
_UNESCAPED = {"n": "\n", "r": "\r"}

_TYPES: dict[str, str] = {
    **dict.fromkeys(("src", "dst", "sourceaddress", "destinationaddress",
                     "sourcetranslatedaddress", "destinationtranslatedaddress",
                     "c6a2", "c6a3"), IP),
    **dict.fromkeys(("shost", "dhost", "sourcehostname", "destinationhostname",
                     "sourcednsdomain", "destinationdnsdomain"), DOMAIN),
    **dict.fromkeys(("request", "requesturl"), URL),
    **dict.fromkeys(("filehash", "oldfilehash"), HASH),
}


def unescape(value: str) -> str:
    """A CEF value with ``\\=``, ``\\|``, ``\\\\``, ``\\n`` and ``\\r`` undone."""
    if "\\" not in value:
        return value
    return _ESCAPE.sub(lambda m: _UNESCAPED.get(m.group(1), m.group(1)), value)


def extension_pairs(extension: str) -> list[tuple[str, str]]:
    """The ``(key, value)`` pairs of a CEF extension, values unescaped and stripped.

    A key is a word (letters, digits, ``_``, ``.``, ``-``, ``[]``) right after a space
    (or at the start) and followed by an unescaped ``=``; its value runs to the next key.
    """
    pairs: list[list[str]] = []
    for word in extension.split(" "):
        equals = word.find("=")
        if equals > 0 and word[equals - 1] != "\\":
            key = word[:equals]
            if key.isidentifier() or _KEY.fullmatch(key):
                pairs.append([key, word[equals + 1:]])
                continue
        if pairs:
            pairs[-1][1] += " " + word
    return [(key, unescape(value.strip())) for key, value in pairs]


class CefRuleSet(RuleSet):
    """CEF lines."""

    preset = "cef"
    default_match = r"CEF:\s*[0-9.]*\|"

    def scan(self, text: str, out: Collector) -> None:
        start = text.find("CEF:")
        header = _HEADER.match(text, start) if start != -1 else None
        if header is None:
            scan_text(text, out)
            return
        for name, value in zip(_HEADER_NAMES, header.groups(), strict=True):
            if value:
                out.capture(name, unescape(value))
        for key, value in extension_pairs(text[header.end():]):
            if not value:
                continue
            kind = _TYPES.get(key.lower())
            if kind is None:
                out.capture(key, value)
            else:
                out.field(key, kind, value)
