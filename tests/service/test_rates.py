"""Worker rates: sampled over a window, written atomically, summed over fresh files only."""

from __future__ import annotations

import json
import time
from pathlib import Path

from trapline.service.rates import FOLDER, WINDOW, RatePublisher, service_rates


def test_rates_are_the_counters_growth_over_the_window(tmp_path: Path) -> None:
    counters = {"events": 0, "observables": 0, "http_observables": 0}
    publisher = RatePublisher(tmp_path, 1, lambda: counters)
    assert publisher.sample(100.0) == (0.0, 0.0)
    counters.update(events=50, observables=120, http_observables=30)
    assert publisher.sample(102.0) == (25.0, 75.0)
    for second in range(103, 130):  # steady 10 events/s and 20 lookups/s from here on
        counters["events"] += 10
        counters["observables"] += 20
        events, lookups = publisher.sample(float(second))
    assert (events, lookups) == (10.0, 20.0)  # the early burst left the window
    assert 129.0 - publisher.samples[0][0] <= WINDOW + 1


def test_the_service_sum_leaves_out_stale_and_broken_files(tmp_path: Path) -> None:
    counters = {"events": 0, "observables": 0}
    first = RatePublisher(tmp_path, 1, lambda: counters)
    second = RatePublisher(tmp_path, 2, lambda: counters)
    first.publish()
    second.publish()
    assert service_rates(tmp_path) is not None and service_rates(tmp_path).workers == 2
    folder = tmp_path / FOLDER
    stale = json.loads((folder / "worker-2.json").read_text())
    stale["time"] = time.time() - 60  # a worker that stopped without cleaning up
    (folder / "worker-2.json").write_text(json.dumps(stale))
    (folder / "worker-3.json").write_text('{"time": "soon"')  # half a file, or not ours
    rates = service_rates(tmp_path)
    assert rates is not None and rates.workers == 1
    first.remove()
    assert service_rates(tmp_path) is None
    assert service_rates(tmp_path / "missing") is None
