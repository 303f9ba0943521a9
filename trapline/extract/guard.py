r"""A cheap probe for configured patterns that one hostile line can stall.

    >>> slow_pattern(re.compile(r"src=([^\s]*?)\s")), slow_pattern(re.compile(r"src=(\S*)"))
    (True, False)

The vendor's own examples (``src=([^\s]*?)\s``) are quadratic on a line that repeats
their literal prefix without the terminator (``src=src=src=...``): every start scans
to the end of the line, about 18 seconds for 64 KiB here. The probe times the pattern
on 4 KiB of that shape (and of its prefix followed by one long word) and calls it slow
when the time, scaled as a quadratic to 64 KiB, passes half a second. It can not see
exponential patterns (``(a+)+b``) or quadratic ones that need other inputs: configured
patterns remain the operator's to keep linear (docs/extraction.md, *Limits*).
"""

from __future__ import annotations

import re
import time
from re import _parser as sre_parse  # type: ignore[attr-defined]

from trapline.extract.model import MAX_EVENT_CHARS

_PROBE_CHARS = 4096
#: A pattern that may take longer than this on one 64 KiB line is slow.
SLOW_SECONDS = 0.5
_SCALE = (MAX_EVENT_CHARS / _PROBE_CHARS) ** 2


def literal_prefix(pattern: re.Pattern[str]) -> str:
    """The literal text every match starts with ('' if none or unknown)."""
    try:
        parsed = sre_parse.parse(pattern.pattern, pattern.flags)
    except Exception:  # a private parser: any failure means "no prefix"
        return ""
    chars = []
    for op, argument in parsed:
        if op is not sre_parse.LITERAL:
            break
        chars.append(chr(argument))
    return "".join(chars)


def probe_seconds(pattern: re.Pattern[str]) -> float:
    """The worst time of ``pattern`` on the probe lines, scaled to a 64 KiB line.

    Each line is timed twice and the faster run kept, so that a busy machine does not
    make a linear pattern look slow.
    """
    prefix = literal_prefix(pattern) or "a"
    lines = (
        (prefix * (_PROBE_CHARS // len(prefix) + 1))[:_PROBE_CHARS],
        (prefix + "a" * _PROBE_CHARS)[:_PROBE_CHARS],
    )
    worst = 0.0
    for line in lines:
        runs = []
        for _ in range(2):
            start = time.perf_counter()
            for _ in pattern.finditer(line):
                pass
            runs.append(time.perf_counter() - start)
        worst = max(worst, min(runs))
    return worst * _SCALE


def slow_pattern(pattern: re.Pattern[str]) -> bool:
    """True when ``pattern`` may take more than half a second on one 64 KiB line."""
    return probe_seconds(pattern) > SLOW_SECONDS
