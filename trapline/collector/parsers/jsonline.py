"""JSON events: one object per line."""

from __future__ import annotations

from typing import Any

import msgspec

from trapline.collector.parsers.errors import ParseError

_decode = msgspec.json.Decoder().decode


def parse_json(line: str | bytes) -> dict[str, Any]:
    try:
        value = _decode(line)
    except msgspec.DecodeError as exc:
        raise ParseError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ParseError(f"not a JSON object but {type(value).__name__}")
    return value
