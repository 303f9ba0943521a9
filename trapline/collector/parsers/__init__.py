"""Line parsers: each turns one raw event (``str``) into a ``dict`` of fields.

``parse(format, line)`` picks the parser; a parser raises ``ParseError`` with a
reason when the line is not in its format (the pipeline counts and keeps it as
``{"message": line}``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trapline.collector.parsers.cef import parse_cef
from trapline.collector.parsers.errors import ParseError
from trapline.collector.parsers.jsonline import parse_json
from trapline.collector.parsers.keyvalue import parse_keyvalue
from trapline.collector.parsers.syslog import parse_syslog

Parser = Callable[[str], dict[str, Any]]

PARSERS: dict[str, Parser] = {
    "json": parse_json,
    "syslog": parse_syslog,
    "cef": parse_cef,
    "keyvalue": parse_keyvalue,
    "raw": lambda line: {"message": line},
}

__all__ = ["PARSERS", "ParseError", "parse_cef", "parse_json", "parse_keyvalue", "parse_syslog"]
