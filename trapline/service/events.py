"""From one event line to detection lines: extract, look up, render.

    processor = EventProcessor(snapshots.get, rule_sets, default, renderer, stats)
    outcome = processor.process("ip=192.0.2.1|url=http://evil.example/", source_id="10.0.0.5")
    outcome.detections   # ['Category=...|MatchedIndicator=192.0.2.1|...']

Transport-free on purpose: the TCP face (service/tcp.py) decides where the lines
go (back on the connection or to the output), this module decides what they are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from trapline.extract import RuleSet, choose_rule_set
from trapline.index.snapshot import Snapshot
from trapline.service.stats import Stats
from trapline.service.templates import Renderer


@dataclass
class Outcome:
    """What one event produced: its detection lines, and its finished line if asked."""

    detections: list[str] = field(default_factory=list)
    finished: str | None = None
    ignored: bool = False


class EventProcessor:
    """Turns event lines into detection lines against the snapshot in force."""

    def __init__(self, snapshot: Callable[[], Snapshot], rule_sets: Sequence[RuleSet],
                 default: RuleSet, renderer: Renderer, stats: Stats) -> None:
        self.snapshot = snapshot
        self.rule_sets = list(rule_sets)
        self.default = default
        self.renderer = renderer
        self.stats = stats

    def process(self, event: str, *, source_id: str = "", finished: bool = False,
                count: bool = True, snapshot: Snapshot | None = None) -> Outcome:
        """Extract the event's observables, look them up, render one line per match.

        ``snapshot``: the one to use (a batch of events takes one, for one version).
        """
        rule_set = choose_rule_set(event, self.rule_sets, self.default)
        extraction = rule_set.extract(event)
        if extraction is None:
            self.stats.count("events_ignored")
            return Outcome(ignored=True)
        outcome = Outcome()
        totals: Counter[str] = Counter()
        request_id = extraction.request_id
        if extraction.observables:
            if snapshot is None:
                snapshot = self.snapshot()
            verdicts = snapshot.lookup_many([o.value for o in extraction.observables])
            for observed, verdict in zip(extraction.observables, verdicts, strict=True):
                for match in verdict.matches:
                    outcome.detections.append(self.renderer.detection(
                        match, observable=observed.value, source_id=source_id,
                        captures=extraction.captures, request_id=request_id))
                    totals[match.category] += 1
                    if count:
                        self.stats.detection(match.category, match.feed, source_id)
        if finished:
            outcome.finished = self.renderer.finished(len(outcome.detections), totals,
                                                      request_id=request_id)
        self.stats.count("events")
        self.stats.count("observables", len(extraction.observables))
        return outcome
