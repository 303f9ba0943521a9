"""Feed timestamps in the spellings real feeds use, read as Unix seconds (UTC)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache

_FORMATS = (
    "%d.%m.%Y %H:%M",      # vendor feeds: 19.05.2024 08:32
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y",
    "%Y-%m-%d %H:%M:%S",   # abuse.ch: 2024-04-04 07:03:03
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)


def parse_time(value: object) -> float | None:
    """Unix seconds of a feed timestamp, or None when it is missing or unreadable.

    Accepts Unix seconds (int, float or digits), RFC 3339 / ISO 8601 (``Z`` or an
    offset; no offset means UTC) and the day-first and dashed forms of _FORMATS.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if 0 <= value < 1e11 else None
    if not isinstance(value, str):
        return None
    return _parse_text(value)


_DAY_FIRST = re.compile(r"^(\d\d)\.(\d\d)\.(\d{4}) (\d\d):(\d\d)$")


@lru_cache(maxsize=65536)
def _parse_text(value: str) -> float | None:
    """Feeds repeat their timestamps: each spelling is parsed once."""
    text = value.strip()
    day_first = _DAY_FIRST.match(text)
    if day_first:  # the vendor's own spelling, the most common by far
        day, month, year, hour, minute = map(int, day_first.groups())
        try:
            return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()
        except ValueError:
            return None
    if not text or len(text) > 64:
        return None
    if text.isdigit():
        return parse_time(int(text))
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        stamp = None
        for pattern in _FORMATS:
            try:
                stamp = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
        if stamp is None:
            return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    try:
        return stamp.timestamp()
    except (OverflowError, OSError, ValueError):
        return None
