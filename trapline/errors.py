"""trapline's error tree.

    TraplineError
     +-- InvalidIndicator      (trapline.indicators) a value is not an indicator
     +-- ConfigError           (trapline.config) the configuration file is invalid
     +-- SnapshotError         (trapline.index) a snapshot is missing, corrupt or unreadable
     +-- FeedError             (trapline.feeds) a feed could not be read
     |    +-- FeedParseError   the feed's content is malformed
     |    +-- FeedFetchError   the feed's source could not be fetched
     |    |    +-- FeedRefused a fetch was refused by policy (address, size, scheme)
     |    +-- FeedConfigError  a feed's configuration is invalid

Catch the narrowest one; every bad input becomes one of these, with its reason.
"""

from __future__ import annotations


class TraplineError(Exception):
    """The root of every error trapline raises on purpose."""


class ConfigError(TraplineError):
    """The configuration file is missing, unreadable or invalid."""


class SnapshotError(TraplineError):
    """A snapshot is missing, corrupt or unreadable."""


class FeedError(TraplineError):
    """A feed could not be read."""


class FeedParseError(FeedError):
    """A line or record of a feed is malformed."""


class FeedFetchError(FeedError):
    """The feed's source could not be fetched (network, HTTP status, file)."""


class FeedRefused(FeedFetchError):
    """A fetch was refused by policy: a forbidden address, a size limit, a scheme."""


class FeedConfigError(FeedError):
    """A feed's configuration is invalid."""
