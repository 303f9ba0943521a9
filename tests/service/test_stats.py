"""Stats: counters, per-minute detections, and the counters of included components."""

from __future__ import annotations

from trapline.service.stats import Stats


def test_included_components_report_under_their_prefix() -> None:
    clock = [120.0]
    stats = Stats(clock=lambda: clock[0])
    sink = {"sent": 3, "dropped": 1}
    stats.include("output_", lambda: sink)
    stats.count("events", 5)
    stats.detection("C2", "vendor", "10.0.0.1")
    sink["sent"] = 4  # read when asked, not when included
    counters = stats.all_counters()
    assert counters == {"events": 5, "detections": 1, "output_sent": 4, "output_dropped": 1}
    minutes = stats.snapshot()["minutes"]
    assert minutes == {120: {"category:C2": 1, "feed:vendor": 1, "source:10.0.0.1": 1}}
