"""The error raised for a value that is not a valid indicator."""

from __future__ import annotations

from trapline.errors import TraplineError


class InvalidIndicator(TraplineError, ValueError):
    """A value could not be read as an indicator of the requested (or any) kind."""

    def __init__(self, value: str, reason: str) -> None:
        shown = value if len(value) <= 80 else value[:77] + "..."
        super().__init__(f"{reason}: {shown!r}")
        self.value = value
        self.reason = reason
