"""The collector's counters: every stage counts what it received, emitted, dropped and failed."""

from __future__ import annotations

from collections import Counter


class Counters(Counter[str]):
    """Named counts (``received``, ``input_udp_dropped``, ``rule_<name>_timeouts``, ...)."""

    def add(self, name: str, count: int = 1) -> None:
        self[name] += count

    def snapshot(self) -> dict[str, int]:
        return dict(sorted(self.items()))
