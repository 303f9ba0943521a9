"""Charts drawn on the server as SVG geometry (the template writes the elements).

    chart = stacked_bars(start, end, bucket, series={"C2": {t: n, ...}, ...})
    chart.bars      # [Bar(x, y, width, height, series, index, count, label)]

Only numbers are computed here; every label goes through the template's
autoescaping, so a category named ``<script>`` is text in the SVG.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

WIDTH, HEIGHT = 720, 180
LEFT, BOTTOM, TOP = 40, 22, 8
PALETTE = 6  # series colours, .s0 ... .s5 in the stylesheet (the last one is "other")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int
    count: int
    label: str


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    label: str


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    bars: list[Bar] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    legend: list[tuple[int, str, int]] = field(default_factory=list)  # colour, name, total
    total: int = 0
    plot_left: int = LEFT
    plot_bottom: float = HEIGHT - BOTTOM


def _nice(top: int) -> int:
    if top <= 5:
        return max(top, 1)
    magnitude = 10 ** int(math.log10(top))
    for step in (1, 2, 2.5, 5, 10):
        if top <= step * magnitude:
            return int(step * magnitude)
    return top


def stacked_bars(start: float, end: float, bucket: float,
                 series: dict[str, dict[float, int]], *, limit: int = PALETTE - 1) -> Chart:
    """Bars per time bucket over [start, end), one stacked segment per series (the
    ``limit`` largest; the rest summed as "other")."""
    totals = sorted(((sum(v.values()), k) for k, v in series.items()), reverse=True)
    kept = [k for _, k in totals[:limit]]
    merged: dict[str, dict[float, int]] = {k: series[k] for k in kept}
    rest = [k for _, k in totals[limit:]]
    if rest:
        other: dict[float, int] = {}
        for k in rest:
            for t, n in series[k].items():
                other[t] = other.get(t, 0) + n
        merged["other"] = other
    count = max(1, math.ceil((end - start) / bucket))
    stacks = [0] * count
    for values in merged.values():
        for t, n in values.items():
            index = int((t - start) // bucket)
            if 0 <= index < count:
                stacks[index] += n
    top = _nice(max(stacks) if stacks else 0)
    chart = Chart()
    plot_w, plot_h = WIDTH - LEFT - 4, HEIGHT - BOTTOM - TOP
    slot = plot_w / count
    heights = [0.0] * count
    for colour, (name, values) in enumerate(merged.items()):
        total = 0
        colour_index = PALETTE - 1 if name == "other" and rest else colour
        for t, n in sorted(values.items()):
            index = int((t - start) // bucket)
            if not 0 <= index < count or n <= 0:
                continue
            total += n
            h = n / top * plot_h
            y = HEIGHT - BOTTOM - heights[index] - h
            heights[index] += h
            moment = datetime.fromtimestamp(start + index * bucket, UTC)
            chart.bars.append(Bar(x=round(LEFT + index * slot + slot * 0.12, 2), y=round(y, 2),
                                  width=round(max(slot * 0.76, 1), 2), height=round(h, 2),
                                  series=colour_index, count=n,
                                  label=f"{moment:%Y-%m-%d %H:%M} UTC: {name}: {n}"))
        chart.legend.append((colour_index, name, total))
        chart.total += total
    for i in range(5):
        value = top * i / 4
        chart.y_ticks.append(Tick(x=LEFT - 6, y=round(HEIGHT - BOTTOM - value / top * plot_h, 2),
                                  label=f"{value:g}"))
    every = max(1, count // 6)
    for index in range(0, count, every):
        moment = datetime.fromtimestamp(start + index * bucket, UTC)
        label = f"{moment:%H:%M}" if bucket < 86400 else f"{moment:%m-%d}"
        chart.x_ticks.append(Tick(x=round(LEFT + index * slot + slot / 2, 2),
                                  y=HEIGHT - 6, label=label))
    return chart
