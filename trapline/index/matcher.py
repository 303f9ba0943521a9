"""Lookups as the service answers them: the feed snapshot, the tenant's lists, a cache.

    matcher = Matcher(follower.get, overlays.get)
    view = matcher.view("General")      # one snapshot and one overlay, for a batch
    view.lookup_many(["198.51.100.7", "http://evil.example/x"])

A verdict is the feed snapshot's, with the tenant's InternalTI matches first
(they always alert) and feed matches suppressed where FalsePositive says so
(docs/matching.md). Real event streams repeat themselves (78-86 % of the
observables of the EVE and Apache logs in ../shared/data are repeats), so each
process keeps the verdicts it gave: a cached verdict is used only while the
snapshot version, the lists version and every matched record's expiry are
unchanged, so the answer is the one a fresh lookup would give.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

import msgspec

from trapline.index.overlay import EMPTY, Overlay
from trapline.index.snapshot import Snapshot
from trapline.index.verdict import Match, Verdict
from trapline.indicators import Indicator, InvalidIndicator
from trapline.indicators.normalize import normalize_observable

DEFAULT_TENANT = "General"
CACHE_SIZE = 100_000
Cache = OrderedDict[str, tuple[Verdict, float]]  # value -> (verdict, valid until), oldest first


class Matcher:
    """The lookup of one serving process; cheap views pin a version for a batch."""

    def __init__(self, snapshot: Callable[[], Snapshot],
                 overlay: Callable[[str], Overlay | None] | None = None, *,
                 cache_size: int = CACHE_SIZE) -> None:
        self.snapshot = snapshot
        self.overlay = overlay or (lambda tenant: None)
        self.cache_size = cache_size
        self._caches: dict[str, tuple[tuple[int, int], Cache]] = {}
        self.cache_hits = 0
        self.cache_misses = 0

    def view(self, tenant: str = DEFAULT_TENANT) -> MatchView:
        """The snapshot and the tenant's lists in force now, with their verdict cache."""
        snapshot = self.snapshot()
        overlay = self.overlay(tenant) or EMPTY
        generation = (snapshot.version, overlay.version)
        held = self._caches.get(tenant)
        if held is None or held[0] != generation:
            held = self._caches[tenant] = (generation, OrderedDict())
        return MatchView(self, snapshot, overlay, held[1])

    def lookup_many(self, values: Sequence[str], tenant: str = DEFAULT_TENANT) -> list[Verdict]:
        """Verdicts for ``values`` through one view."""
        return self.view(tenant).lookup_many(values)

    def counters(self) -> dict[str, int]:
        """Verdict cache hits and misses, and the verdicts held."""
        return {"cache_hits": self.cache_hits, "cache_misses": self.cache_misses,
                "cache_size": sum(len(held[1]) for held in self._caches.values())}


class MatchView:
    """One snapshot and one overlay: every lookup through it sees the same versions."""

    __slots__ = ("cache", "matcher", "overlay", "read", "snapshot")

    def __init__(self, matcher: Matcher, snapshot: Snapshot, overlay: Overlay,
                 cache: Cache) -> None:
        self.matcher = matcher
        self.snapshot = snapshot
        self.overlay = overlay
        self.cache = cache
        self.read = snapshot.backend.view()

    def lookup_many(self, values: Sequence[str], *, now: float | None = None) -> list[Verdict]:
        """Verdicts in order; ``now`` (tests) bypasses the cache."""
        if now is not None:
            return [self._lookup(value, now) for value in values]
        when = time.time()
        cache = self.cache
        out: list[Verdict] = []
        hits = 0
        for value in values:
            held = cache.get(value)
            if held is not None and held[1] >= when:
                out.append(held[0])
                hits += 1
                continue
            verdict = self._lookup(value, when)
            if len(cache) >= self.matcher.cache_size:
                # The oldest goes, one at a time: clearing 100,000 verdicts at once would
                # stall the loop for tens of milliseconds.
                cache.popitem(last=False)
            cache[value] = (verdict, _expiry(verdict))
            out.append(verdict)
        self.matcher.cache_hits += hits
        self.matcher.cache_misses += len(values) - hits
        return out

    def _lookup(self, value: str, now: float) -> Verdict:
        overlay = self.overlay
        if overlay.empty:
            return self.snapshot.lookup_in(self.read, value, now)
        try:
            indicator = normalize_observable(value)
        except InvalidIndicator as exc:
            return Verdict(value, None, self.snapshot.version, [], exc.reason)
        verdict = self.snapshot.lookup_in(self.read, indicator, now)
        return _with_lists(verdict, value, indicator, overlay, now)


def _with_lists(verdict: Verdict, text: str, indicator: Indicator, overlay: Overlay,
                now: float) -> Verdict:
    """The feed verdict with InternalTI added first and false positives suppressed."""
    internal: list[Match] = []
    if overlay.internal is not None:
        internal = overlay.internal.lookup_many((indicator,), now=now)[0].matches
    feed = verdict.matches
    allowed, suppressed = list(verdict.allowed_by), list(verdict.suppressed)
    if feed and overlay.false_positive is not None:
        by_list = overlay.false_positive.lookup_many((indicator,), now=now)[0].matches
        if by_list:
            allowed += by_list
            suppressed += feed
            feed = []
    if not internal and feed is verdict.matches and len(allowed) == len(verdict.allowed_by):
        return msgspec.structs.replace(verdict, observable=text)
    return Verdict(text, indicator, verdict.snapshot, internal + feed, verdict.error,
                   allowed, suppressed)


def _expiry(verdict: Verdict) -> float:
    """Until when a verdict stays true: the earliest expiry of a record it involves."""
    earliest = math.inf
    for matches in (verdict.matches, verdict.allowed_by, verdict.suppressed):
        for match in matches:
            if match.valid_until is not None and match.valid_until < earliest:
                earliest = match.valid_until
    return earliest
