"""What a parse noticed besides records: items skipped on purpose, with their reasons.

Values that are not indicators are counted by the snapshot builder (rejected);
a parser counts here what it cannot turn into records at all: a STIX pattern
with ``AND``, a MISP attribute of an unsupported type, a CSV row without the
value column. Nothing is dropped silently: every skip has a reason and a count.
"""

from __future__ import annotations

from collections import Counter

MAX_SAMPLES = 20


class FeedReport:
    """Counters of one parse: skipped items per reason, a few samples of each."""

    def __init__(self) -> None:
        self.skipped: Counter[str] = Counter()
        self.samples: list[str] = []
        self.notes: dict[str, str] = {}  # facts a source or parser reports (e.g. a TAXII cursor)

    def skip(self, reason: str, sample: str = "") -> None:
        """Count one item skipped for ``reason``; keep ``sample`` while there is room."""
        self.skipped[reason] += 1
        if sample and len(self.samples) < MAX_SAMPLES:
            self.samples.append(f"{reason}: {sample[:200]}")

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())
