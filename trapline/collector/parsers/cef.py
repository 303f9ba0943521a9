"""ArcSight CEF: ``CEF:Version|Vendor|Product|Version|SignatureID|Name|Severity|Extension``.

The header's pipes may be escaped (``\\|``); the extension is ``key=value``
pairs whose values run to the next `` key=`` and escape ``\\=``, ``\\\\``,
``\\n``, ``\\r``. A syslog header before ``CEF:`` is allowed (and kept as
``syslog_prefix``).
"""

from __future__ import annotations

import re
from typing import Any

from trapline.collector.parsers.errors import ParseError

HEADER = ("cef_version", "DeviceVendor", "DeviceProduct", "DeviceVersion",
          "DeviceEventClassID", "Name", "Severity")
_KEY = re.compile(r"(?:^|(?<=\s))([\w.\[\]-]+)=")
_ESCAPES = {"\\": "\\", "=": "=", "n": "\n", "r": "\r", "|": "|"}


def _unescape(value: str) -> str:
    if "\\" not in value:
        return value
    out = []
    i = 0
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value) and value[i + 1] in _ESCAPES:
            out.append(_ESCAPES[value[i + 1]])
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _split_header(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text) and len(parts) < 7:
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in "\\|":
            current.append(text[i + 1])
            i += 2
            continue
        if char == "|":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append(text[i:])  # the extension, unparsed
    return parts


def parse_extension(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    keys = [m for m in _KEY.finditer(text) if not _escaped(text, m.start(1))]
    for index, match in enumerate(keys):
        end = keys[index + 1].start() if index + 1 < len(keys) else len(text)
        fields[match.group(1)] = _unescape(text[match.end():end].rstrip())
    return fields


def _escaped(text: str, at: int) -> bool:
    return at > 0 and text[at - 1] == "\\"


def parse_cef(line: str) -> dict[str, Any]:
    start = line.find("CEF:")
    if start < 0:
        raise ParseError("no 'CEF:' header")
    parts = _split_header(line[start + 4:])
    if len(parts) < 8:
        raise ParseError(f"CEF header has {len(parts) - 1} of its 7 fields")
    fields: dict[str, Any] = dict(zip(HEADER, parts[:7], strict=True))
    if start:
        fields["syslog_prefix"] = line[:start].strip()
    fields.update(parse_extension(parts[7]))
    return fields
