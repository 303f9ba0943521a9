"""Shared by the JSON presets: find the object in a line, decode it, fall back to text.

    decoded = decode_object(line, decoder)   # a Struct, or None if the line is no such object

A syslog header before the object (``Mar  1 host suricata[1]: {...}``) is skipped.
A line that is not JSON, whose fields have unexpected types, or that nests deeper than
msgspec decodes (about a thousand levels), is read as free text by the caller, so that
nothing in it is lost.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

T = TypeVar("T")


def decode_object(line: str, decoder: msgspec.json.Decoder[T]) -> T | None:
    """The line's JSON object decoded by ``decoder``, or None when it is not one."""
    start = line.find("{")
    if start == -1:
        return None
    try:
        return decoder.decode(line[start:] if start else line)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None  # RecursionError: nesting deeper than msgspec decodes


def text_of(value: Any) -> str | None:
    """``value`` if it is a non-empty string, else None (JSON leaves can be anything)."""
    return value if isinstance(value, str) and value else None
