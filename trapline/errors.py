"""trapline's error tree.

    TraplineError
     +-- InvalidIndicator      (trapline.indicators) a value is not an indicator
     +-- SnapshotError         (trapline.index) a snapshot is missing, corrupt or unreadable
     +-- FeedError             (trapline.feeds) a feed could not be read
          +-- FeedParseError   a line or record of a feed is malformed

Catch the narrowest one; every bad input becomes one of these, with its reason.
"""

from __future__ import annotations


class TraplineError(Exception):
    """The root of every error trapline raises on purpose."""


class SnapshotError(TraplineError):
    """A snapshot is missing, corrupt or unreadable."""


class FeedError(TraplineError):
    """A feed could not be read."""


class FeedParseError(FeedError):
    """A line or record of a feed is malformed."""
