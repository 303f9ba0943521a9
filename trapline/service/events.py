"""From event lines to detection lines: extract, look up, render.

    processor = EventProcessor(matcher, rule_sets, default, renderer, stats)
    outcome = processor.process("ip=192.0.2.1|url=http://evil.example/", source_id="10.0.0.5")
    outcome.detections   # ['Category=...|MatchedIndicator=192.0.2.1|...']

Transport-free on purpose: the TCP face (service/tcp.py) decides where the lines
go (back on the connection or to the output), this module decides what they are.
A chunk of events read together goes through ``process_many``: one view of the
snapshot and the lists for all of them, counters added once.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from trapline.extract import RuleSet, choose_rule_set
from trapline.index.matcher import Matcher, MatchView
from trapline.index.verdict import Verdict
from trapline.service.stats import Stats
from trapline.service.templates import Renderer
from trapline.store.records import DetectionInput

log = logging.getLogger("trapline.service")
RENDERED_SIZE = 50_000
MAX_KEPT_EVENT = 8192  # characters of the original event kept with a detection


@dataclass
class Outcome:
    """What one event produced: its detection lines, and its finished line if asked."""

    detections: list[str] = field(default_factory=list)
    finished: str | None = None
    ignored: bool = False
    failed: bool = False


class EventProcessor:
    """Turns event lines into detection lines against the snapshot and lists in force."""

    def __init__(self, matcher: Matcher, rule_sets: Sequence[RuleSet], default: RuleSet,
                 renderer: Renderer, stats: Stats,
                 record: Callable[[list[DetectionInput]], None] | None = None) -> None:
        """``record``: where counted detections go to be kept (the store's recorder)."""
        self.matcher = matcher
        self.record = record
        self.rule_sets = list(rule_sets)
        self.default = default
        self.renderer = renderer
        self.stats = stats
        # Lines rendered for a verdict the matcher's cache gave again (the same object):
        # a repeated observable costs no rendering when the template allows it.
        self._rendered: OrderedDict[str, tuple[Verdict, list[str]]] = OrderedDict()
        self._rendered_by = renderer

    def process(self, event: str, *, source_id: str = "", finished: bool = False,
                count: bool = True) -> Outcome:
        """Extract one event's observables, look them up, render one line per match."""
        return self.process_many([event], source_id=source_id, finished=finished,
                                 count=count)[0]

    def process_many(self, events: Sequence[str], *, source_id: str = "",
                     finished: bool = False, count: bool = True,
                     view: MatchView | None = None) -> list[Outcome]:
        """``process`` for a chunk of events, through one view (one version for all).

        ``count``: add the detections to the statistics (reply-back traffic is counted
        only with SaveStatistic). An event that fails is logged and counted, and its
        outcome is marked ``failed``; the others go on.
        """
        if view is None:
            view = self.matcher.view()
        rule_sets, default, renderer = self.rule_sets, self.default, self.renderer
        detection, stats = renderer.detection, self.stats
        per_match, rendered = renderer.per_match, self._rendered
        if renderer is not self._rendered_by:  # a reload brought new templates
            rendered.clear()
            self._rendered_by = renderer
        outcomes: list[Outcome] = []
        ignored = observed = failed = 0
        record = self.record
        to_keep: list[DetectionInput] = []
        now = time.time()
        for event in events:
            try:
                extraction = choose_rule_set(event, rule_sets, default).extract(event)
                if extraction is None:
                    ignored += 1
                    outcomes.append(Outcome(ignored=True))
                    continue
                lines: list[str] = []
                observables = extraction.observables
                request_id = extraction.request_id
                totals: dict[str, int] = {}
                if observables:
                    observed += len(observables)
                    verdicts = view.lookup_many([o.value for o in observables])
                    reuse = per_match and request_id is None
                    for observable, verdict in zip(observables, verdicts, strict=True):
                        if not verdict.matches:
                            continue
                        kept = rendered.get(observable.value) if reuse else None
                        if kept is not None and kept[0] is verdict:
                            lines += kept[1]
                        else:
                            mine = [detection(hit, observable=observable.value,
                                              source_id=source_id,
                                              captures=extraction.captures,
                                              request_id=request_id)
                                    for hit in verdict.matches]
                            lines += mine
                            if reuse:
                                if len(rendered) >= RENDERED_SIZE:
                                    rendered.popitem(last=False)  # the oldest, one by one
                                rendered[observable.value] = (verdict, mine)
                        for hit in verdict.matches:
                            totals[hit.category] = totals.get(hit.category, 0) + 1
                            if count:
                                stats.detection(hit.category, hit.feed, source_id)
                                if record is not None:
                                    to_keep.append(DetectionInput(
                                        detection_id=uuid.uuid4().hex, time=now,
                                        observable=observable.value, indicator=hit.pattern,
                                        category=hit.category, feed=hit.feed,
                                        context=hit.context, source=source_id,
                                        event=event[:MAX_KEPT_EVENT],
                                        snapshot=view.snapshot.version))
                outcome = Outcome(lines)
                if finished:
                    outcome.finished = renderer.finished(len(lines), totals,
                                                         request_id=request_id)
                outcomes.append(outcome)
            except Exception:  # a bug on one event must not cost the others
                failed += 1
                log.exception("event from %s could not be processed", source_id)
                outcomes.append(Outcome(failed=True))
        if to_keep and record is not None:
            record(to_keep)
        counters = stats.counters
        counters["events"] += len(events) - failed - ignored
        counters["observables"] += observed
        if ignored:
            counters["events_ignored"] += ignored
        if failed:
            counters["event_errors"] += failed
        return outcomes
