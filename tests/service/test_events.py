"""EventProcessor: extraction, lookup through the matcher, rendering, counters."""

from __future__ import annotations

from trapline.extract import presets
from trapline.index import IndicatorRecord, build_memory_snapshot
from trapline.index.matcher import Matcher
from trapline.index.overlay import ListEntry, Overlay
from trapline.service.events import EventProcessor
from trapline.service.stats import Stats
from trapline.service.templates import Renderer, Templates

SNAPSHOT = build_memory_snapshot([
    IndicatorRecord(value="evil.example", feed="vendor", category="Malicious",
                    context={"threat": "Trojan"}),
    IndicatorRecord(value="203.0.113.9", feed="vendor", category="C2"),
], version=1)


def processor(overlays: dict[str, Overlay] | None = None,
              templates: Templates | None = None) -> EventProcessor:
    shipped = presets()
    return EventProcessor(Matcher(lambda: SNAPSHOT, (overlays or {}).get),
                          [shipped["kuma"]], shipped["generic"], Renderer(templates), Stats())


def test_detections_in_event_order_with_the_finished_line() -> None:
    events = processor(templates=Templates(finished="LookupFinished%RecordContext%"))
    outcome = events.process("ip=203.0.113.9|url=http://evil.example/x|hash=nothing",
                             finished=True)
    assert outcome.detections == [
        "Category=C2|MatchedIndicator=203.0.113.9",
        "Category=Malicious|MatchedIndicator=evil.example|threat=Trojan",
    ]
    assert outcome.finished is not None and "sent_events=2" in outcome.finished
    assert "C2:1;Malicious:1;" in outcome.finished


def test_a_repeated_observable_gives_the_same_lines_and_lists_changes_show() -> None:
    overlays = {"General": Overlay.build(1)}
    events = processor(overlays)
    first = events.process("ip=203.0.113.9").detections
    assert events.process("ip=203.0.113.9").detections == first
    overlays["General"] = Overlay.build(2, false_positive=[ListEntry("203.0.113.9")])
    assert events.process("ip=203.0.113.9").detections == []
    overlays["General"] = Overlay.build(3, internal=[ListEntry("203.0.113.9")])
    assert events.process("ip=203.0.113.9").detections == [
        "Category=InternalTI|MatchedIndicator=203.0.113.9",
        "Category=C2|MatchedIndicator=203.0.113.9",
    ]


def test_lines_with_per_event_placeholders_are_rendered_for_each_event() -> None:
    events = processor(templates=Templates(
        detection="%SourceId% Category=%Category%|MatchedIndicator=%MatchedIndicator%"))
    assert not events.renderer.per_match
    assert events.process("ip=203.0.113.9", source_id="10.0.0.1").detections == [
        "10.0.0.1 Category=C2|MatchedIndicator=203.0.113.9"]
    assert events.process("ip=203.0.113.9", source_id="10.0.0.2").detections == [
        "10.0.0.2 Category=C2|MatchedIndicator=203.0.113.9"]


def test_a_failing_event_costs_only_itself() -> None:
    events = processor()
    original = events.renderer.detection
    calls = []

    def flaky(match, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs["observable"])
        if kwargs["observable"] == "evil.example":
            raise RuntimeError("a bug")
        return original(match, **kwargs)

    events.renderer.detection = flaky  # type: ignore[method-assign]
    outcomes = events.process_many(["domain=evil.example", "ip=203.0.113.9", "nothing here"])
    assert [o.failed for o in outcomes] == [True, False, False]
    assert outcomes[1].detections == ["Category=C2|MatchedIndicator=203.0.113.9"]
    counters = events.stats.counters
    assert counters["event_errors"] == 1
    assert counters["events"] == 2
    assert counters["observables"] == 2


def test_counted_detections_are_handed_to_the_recorder_with_their_event() -> None:
    shipped = presets()
    rows: list = []
    events = EventProcessor(Matcher(lambda: SNAPSHOT), [shipped["kuma"]], shipped["generic"],
                            Renderer(), Stats(), record=rows.extend)
    events.process("ip=203.0.113.9|domain=a.evil.example", source_id="10.0.0.9")
    events.process("ip=203.0.113.9", source_id="10.0.0.9", count=False)  # reply-back traffic
    assert [(r.observable, r.indicator, r.category, r.feed, r.source, r.snapshot)
            for r in rows] == [("203.0.113.9", "203.0.113.9", "C2", "vendor", "10.0.0.9", 1),
                               ("a.evil.example", "evil.example", "Malicious", "vendor",
                                "10.0.0.9", 1)]
    assert rows[0].event == "ip=203.0.113.9|domain=a.evil.example"
    assert rows[1].context == {"threat": "Trojan"}
    assert len({r.detection_id for r in rows}) == 2
