"""Verdicts: what a lookup found, and how each indicator matched (explainable)."""

from __future__ import annotations

from typing import Any

import msgspec

from trapline.indicators import Indicator


class Match(msgspec.Struct, frozen=True):
    """One matching record and the reason it matched.

    ``how`` is one of ``exact``, ``cidr``, ``parent-domain``, ``domain-mask``,
    ``url-mask``; matches found through a URL's host carry ``via="url-host"``.
    ``pattern`` is the indicator as the snapshot stores it (canonical).
    """

    how: str
    pattern: str
    feed: str
    category: str
    context: dict[str, Any]
    first_seen: float | None = None
    last_seen: float | None = None
    valid_until: float | None = None
    confidence: int | None = None
    via: str = ""

    def explain(self) -> str:
        """A one-line human reading: ``url-host parent-domain evil.example``."""
        how = f"{self.via} {self.how}" if self.via else self.how
        return f"{how} {self.pattern}"


class Verdict(msgspec.Struct, frozen=True):
    """The answer for one observable, against one snapshot version."""

    observable: str
    indicator: Indicator | None
    snapshot: int
    matches: list[Match] = msgspec.field(default_factory=list)
    error: str = ""

    @property
    def detected(self) -> bool:
        return bool(self.matches)
