"""The parsers' error."""

from __future__ import annotations

from trapline.errors import TraplineError


class ParseError(TraplineError):
    """A line is not in the format its input declares."""
