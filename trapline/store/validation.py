"""What the store accepts, and how logged text is made storable.

Both databases must hold every value the same way: PostgreSQL text refuses NUL, and UTF-8
refuses unpaired surrogates (which Python strings decoded with ``surrogateescape`` or from
JSON ``\\udcxx`` escapes can hold). Changes refuse such text with ``InvalidInput``; logs
(detections, lookup history, the audit trail) store it cleaned instead, since losing a log
entry to one odd byte is worse.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from trapline.store.errors import InvalidInput
from trapline.store.records import Actor
from trapline.store.schema import NAME

MAX_PAGE = 1000   # the longest page any listing returns
MAX_TEXT = 4096   # the longest description or comment
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_limit(limit: int, *, most: int = MAX_PAGE) -> None:
    """Refuse a page size outside 1..most."""
    if not 1 <= limit <= most:
        raise InvalidInput(f"limit must be between 1 and {most}, not {limit}")


def check_text(what: str, value: str, *, longest: int) -> str:
    """Refuse text that is not a string, is too long, or holds NUL or a lone surrogate."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text")
    if len(value) > longest:
        raise InvalidInput(f"{what} is longer than {longest} characters")
    if "\x00" in value:
        raise InvalidInput(f"{what} must not contain NUL")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} is not valid Unicode") from None
    return value


def check_name(what: str, name: str, *, longest: int = NAME) -> str:
    """A name as stored: not blank, no control characters, at most ``longest`` characters."""
    check_text(f"{what} name", name, longest=longest)
    if not name.strip():
        raise InvalidInput(f"{what} name must not be empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidInput(f"{what} name contains a control character")
    return name


def check_json(what: str, value: Any, *, largest: int) -> None:
    """Refuse a value that is not JSON (or holds a lone surrogate), or is too large."""
    try:
        size = len(msgspec.json.encode(value))
    except (TypeError, UnicodeEncodeError) as exc:
        raise InvalidInput(f"{what} is not a JSON value ({exc})") from None
    if size > largest:
        raise InvalidInput(f"{what} is larger than {largest} bytes")


def clean_text(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` characters, NUL and lone surrogates made U+FFFD."""
    value = value[:limit]
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = _SURROGATE.sub("\ufffd", value)
    return value


def actor_name(actor: Actor) -> str:
    """The name an actor is recorded under (audit rows, added_by, updated_by)."""
    return clean_text(actor.name, NAME)


def clean_json(value: Any) -> Any:
    """A JSON value with every string cleaned (returned as is when it needs nothing)."""
    try:
        msgspec.json.encode(value)
        return value
    except (TypeError, UnicodeEncodeError):
        return _cleaned(value)


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value, len(value))
    if isinstance(value, dict):
        return {clean_text(str(k), len(str(k))): _cleaned(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_cleaned(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return clean_text(str(value), len(str(value)))
