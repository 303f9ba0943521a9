r"""Preset ``keyvalue``: space-separated ``key=value`` fields (the Splunk app, MaxPatrol).

    ip=203.0.113.9 md5=44d88612fea8a8f36de82e1278abb02f sha1= sha256= url=http://evil.example/a
    src.ip=10.0.0.5 dst.host=evil.example object.path=C:\Program Files\x.exe dst.port=443

yield ``IP 203.0.113.9``, ``MD5 44d8...``, ``URL http://evil.example/a``, and
``IP 10.0.0.5``, ``DOMAIN evil.example`` (``object.path`` and ``dst.port`` are captured).

A key is a word of letters, digits, ``_``, ``.``, ``-`` followed by ``=`` at the start
of the line or after white space; its value runs to the next key, so unquoted values
may hold spaces (``object.path`` above). A value may be quoted with ``"`` (``\"`` and
``\\`` inside) or ``'``. Keys are typed by name (``trapline.extract.fields``: ip, src,
dst, src_ip, dest_ip, url, request, md5, sha1, sha256, hash, filehash, domain, host,
query, and names ending in _ip, _host, _url, _md5, _hash...); others are captured only.
Empty values (``sha1=``) are skipped. A line with no ``=`` is read as free text.
"""

from __future__ import annotations

import re

from trapline.extract.collector import Collector
from trapline.extract.freetext import scan_text
from trapline.extract.rules import RuleSet

_KEY_AT = re.compile(r"(?<!\S)([\w.\-]+)=")
_DOUBLE_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_ESCAPE = re.compile(r"\\(.)")


def pairs(text: str) -> list[tuple[str, str]]:
    """The ``(key, value)`` pairs of a line, values unquoted and stripped."""
    if '"' not in text and "'" not in text:
        words = text.split()
        if all("=" in word for word in words):  # the common case: no spaces in values
            return [(key, value) for key, _, value in (word.partition("=") for word in words)
                    if key]
    found: list[tuple[str, str]] = []
    keys = list(_KEY_AT.finditer(text))
    consumed = 0
    for index, key in enumerate(keys):
        if key.start() < consumed:
            continue  # a key-like word inside a quoted value
        start = key.end()
        quote = text[start:start + 1]
        if quote == '"':
            quoted = _DOUBLE_QUOTED.match(text, start)
            if quoted is not None:
                found.append((key.group(1), _ESCAPE.sub(r"\1", quoted.group(1))))
                consumed = quoted.end()
                continue
        elif quote == "'":
            end = text.find("'", start + 1)
            if end != -1:
                found.append((key.group(1), text[start + 1:end]))
                consumed = end + 1
                continue
        # Keys do not overlap: the next one starts after this one's '='.
        following = keys[index + 1].start() if index + 1 < len(keys) else len(text)
        found.append((key.group(1), text[start:following].strip()))
        consumed = following
    return found


class KeyValueRuleSet(RuleSet):
    """``key=value key=value...`` lines."""

    preset = "keyvalue"
    default_match = r"^\s*[\w.\-]+="

    def scan(self, text: str, out: Collector) -> None:
        if "=" not in text:
            scan_text(text, out)
            return
        for key, value in pairs(text):
            if not value:
                continue
            out.pair(key, value)
