"""The service's lookup: feed snapshot + InternalTI/FalsePositive overlay + verdict cache."""

from __future__ import annotations

import time
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from trapline.index import IndicatorRecord, Snapshot, build_memory_snapshot
from trapline.index.matcher import Matcher
from trapline.index.overlay import FALSE_POSITIVE, INTERNAL_TI, ListEntry, Overlay

MakeSnapshot = Callable[..., Snapshot]


def feed(value: str, **extra: object) -> IndicatorRecord:
    return IndicatorRecord(value=value, feed="vendor", category="Malicious", **extra)


def matcher_for(snapshot: Snapshot, overlay: Overlay | None = None,
                **options: int) -> Matcher:
    return Matcher(lambda: snapshot, (lambda tenant: overlay), **options)


def test_internal_ti_alerts_with_no_feed_match(make_snapshot: MakeSnapshot) -> None:
    overlay = Overlay.build(1, internal=[ListEntry("198.51.100.7", category="Blocked",
                                                   context={"ticket": "SEC-1"})])
    verdict = matcher_for(make_snapshot([feed("evil.example")]), overlay).lookup_many(
        ["198.51.100.7"])[0]
    assert [(m.feed, m.category, m.context) for m in verdict.matches] == [
        (INTERNAL_TI, "Blocked", {"ticket": "SEC-1"})]
    assert verdict.observable == "198.51.100.7"


def test_internal_ti_category_defaults_to_its_name(make_snapshot: MakeSnapshot) -> None:
    overlay = Overlay.build(1, internal=[ListEntry("evil.example")])
    verdict = matcher_for(make_snapshot([]), overlay).lookup_many(["a.evil.example"])[0]
    assert [(m.category, m.how) for m in verdict.matches] == [(INTERNAL_TI, "parent-domain")]


def test_false_positive_on_the_observable_suppresses_feed_matches(
        make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot([feed("cdn.example"), feed("http://a.cdn.example/x")])
    overlay = Overlay.build(2, false_positive=[ListEntry("cdn.example")])
    matcher = matcher_for(snapshot, overlay)
    for observable in ("cdn.example", "a.cdn.example", "http://a.cdn.example/x"):
        verdict = matcher.lookup_many([observable])[0]
        assert verdict.matches == [], observable
        assert verdict.suppressed, observable
        assert [m.feed for m in verdict.allowed_by] == [FALSE_POSITIVE]
    assert matcher.lookup_many(["other.example"])[0].allowed_by == []


def test_false_positive_rules_are_the_matching_rules(make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot([feed("*.bad.example"), feed("x.bad.example"), feed("10.0.0.0/8"),
                              feed("bad.example")])
    overlay = Overlay.build(4, false_positive=[ListEntry("*.bad.example"),
                                               ListEntry("10.1.0.0/16")])
    matcher = matcher_for(snapshot, overlay)
    assert matcher.lookup_many(["x.bad.example"])[0].matches == []  # under the mask
    assert [m.pattern for m in matcher.lookup_many(["bad.example"])[0].matches] == [
        "bad.example"]  # the mask does not cover its own parent
    assert matcher.lookup_many(["10.1.2.3"])[0].matches == []
    assert [m.pattern for m in matcher.lookup_many(["10.2.0.1"])[0].matches] == ["10.0.0.0/8"]


def test_internal_ti_alerts_even_when_also_a_false_positive(
        make_snapshot: MakeSnapshot) -> None:
    snapshot = make_snapshot([feed("203.0.113.5")])
    overlay = Overlay.build(5, internal=[ListEntry("203.0.113.5")],
                            false_positive=[ListEntry("203.0.113.5")])
    verdict = matcher_for(snapshot, overlay).lookup_many(["203.0.113.5"])[0]
    assert [m.feed for m in verdict.matches] == [INTERNAL_TI]
    assert [m.feed for m in verdict.suppressed] == ["vendor"]


def test_entries_that_are_not_indicators_are_reported_not_raised() -> None:
    overlay = Overlay.build(6, internal=[ListEntry("not an indicator"), ListEntry("ok.example")],
                            false_positive=[ListEntry("deadbeef", kind="md5")])
    assert len(overlay.rejected) == 2
    assert overlay.internal is not None and overlay.false_positive is None


def test_cache_gives_the_same_verdict_until_a_version_changes() -> None:
    snapshot = build_memory_snapshot([feed("evil.example")], version=1)
    overlays = {"General": Overlay.build(1)}
    matcher = Matcher(lambda: snapshot, overlays.get)
    first = matcher.lookup_many(["evil.example"])[0]
    assert matcher.lookup_many(["evil.example"])[0] is first
    assert matcher.cache_hits == 1
    overlays["General"] = Overlay.build(2, false_positive=[ListEntry("evil.example")])
    assert matcher.lookup_many(["evil.example"])[0].matches == []
    snapshot = build_memory_snapshot([feed("other.example")], version=2)
    overlays["General"] = Overlay.build(2)
    assert matcher.lookup_many(["evil.example"])[0].matches == []
    assert matcher.lookup_many(["other.example"])[0].detected


def test_cache_is_per_tenant() -> None:
    snapshot = build_memory_snapshot([], version=1)
    overlays = {"A": Overlay.build(1, internal=[ListEntry("a.example")]), "B": Overlay.build(1)}
    matcher = Matcher(lambda: snapshot, overlays.get)
    assert matcher.lookup_many(["a.example"], "A")[0].detected
    assert not matcher.lookup_many(["a.example"], "B")[0].detected
    assert not matcher.lookup_many(["a.example"])[0].detected  # General: no lists


def test_a_cached_hit_ends_when_its_record_expires() -> None:
    snapshot = build_memory_snapshot([feed("soon.example", valid_until=time.time() + 0.3)])
    matcher = Matcher(lambda: snapshot)
    assert matcher.lookup_many(["soon.example"])[0].detected
    assert matcher.lookup_many(["soon.example"])[0].detected
    time.sleep(0.4)
    assert not matcher.lookup_many(["soon.example"])[0].detected


def test_a_full_cache_starts_again_and_stays_bounded() -> None:
    snapshot = build_memory_snapshot([feed("evil.example")])
    matcher = Matcher(lambda: snapshot, cache_size=10)
    view = matcher.view()
    view.lookup_many([f"h{i}.example" for i in range(25)])
    assert len(view.cache) <= 10


VALUES = ["evil.example", "a.evil.example", "10.0.0.0/8", "2001:db8::/32", "good.example",
          "http://evil.example/p", "*.mask.example", "d41d8cd98f00b204e9800998ecf8427e"]
OBSERVED = st.sampled_from([
    "evil.example", "b.a.evil.example", "10.1.2.3", "2001:db8::1", "good.example",
    "http://evil.example/p", "http://evil.example/q", "x.mask.example", "not valid!",
    "D41D8CD98F00B204E9800998ECF8427E", "192.0.2.1", "hxxp://evil[.]example/p"])


@settings(max_examples=60, deadline=None)
@given(st.lists(OBSERVED, max_size=30), st.sets(st.sampled_from(VALUES)),
       st.sets(st.sampled_from(VALUES)))
def test_matcher_agrees_with_the_rules(observed: list[str], internal: set[str],
                                       fp: set[str]) -> None:
    """Cached or not, a verdict is: InternalTI matches, then feed matches unless FP."""
    snapshot = build_memory_snapshot([feed(v) for v in VALUES], version=1)
    deny = build_memory_snapshot([IndicatorRecord(value=v, feed=INTERNAL_TI,
                                                  category=INTERNAL_TI) for v in internal])
    allow = build_memory_snapshot([IndicatorRecord(value=v, feed=FALSE_POSITIVE)
                                   for v in fp])
    overlay = Overlay.build(1, internal=[ListEntry(v) for v in internal],
                            false_positive=[ListEntry(v) for v in fp])
    matcher = matcher_for(snapshot, overlay)
    for _ in range(2):  # the second pass answers from the cache
        for value, verdict in zip(observed, matcher.lookup_many(observed), strict=True):
            expected = [m.pattern for m in deny.lookup(value).matches]
            if not allow.lookup(value).matches:
                expected += [m.pattern for m in snapshot.lookup(value).matches]
            assert [m.pattern for m in verdict.matches] == expected, value
