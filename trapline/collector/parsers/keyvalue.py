"""``key=value key2="quoted value"`` events (the MaxPatrol forwarder's shape, firewalls).

Separators between pairs: spaces, commas, semicolons or pipes; a value may be
double- or single-quoted (backslash escapes inside quotes). Text that is not a
pair is skipped.
"""

from __future__ import annotations

import re
from typing import Any

from trapline.collector.parsers.errors import ParseError

_PAIR = re.compile(
    r"""([A-Za-z_][\w.\-]*)=("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;|]*)""")
_UNESCAPE = re.compile(r"\\(.)")


def parse_keyvalue(line: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for match in _PAIR.finditer(line):
        key, value = match.group(1), match.group(2)
        if value[:1] in ('"', "'") and len(value) >= 2:
            value = _UNESCAPE.sub(r"\1", value[1:-1])
        fields[key] = value
    if not fields:
        raise ParseError("no key=value pair")
    return fields
