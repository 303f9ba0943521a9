"""Verdicts: what a lookup found, and how each indicator matched (explainable)."""

from __future__ import annotations

from typing import Any

import msgspec

from trapline.indicators import Indicator


class Match(msgspec.Struct, frozen=True, gc=False):
    """One matching record and the reason it matched.

    ``how`` is one of ``exact``, ``cidr``, ``parent-domain``, ``domain-mask``,
    ``url-mask`` (and ``substring`` for allow-list substrings); matches found
    through a URL's host carry ``via="url-host"``.
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


class Verdict(msgspec.Struct, frozen=True, gc=False):
    """The answer for one observable, against one snapshot version.

    When an allow list matches the observable, ``matches`` is empty, ``allowed_by``
    holds the allow-list matches and ``suppressed`` the matches they silenced.
    """

    observable: str
    indicator: Indicator | None
    snapshot: int
    matches: list[Match] = msgspec.field(default_factory=list)
    error: str = ""
    allowed_by: list[Match] = msgspec.field(default_factory=list)
    suppressed: list[Match] = msgspec.field(default_factory=list)

    @property
    def detected(self) -> bool:
        return bool(self.matches)
