"""Histogram of the intervals between a peer's heartbeats: evidence for choosing deadtime and warntime."""
from __future__ import annotations

from dataclasses import dataclass, field

# Upper bounds in ms; the last bucket takes everything longer.
BOUNDS_MS: tuple[int, ...] = (50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 30000, 2**31)


@dataclass
class IntervalHistogram:
    counts: list[int] = field(default_factory=lambda: [0] * len(BOUNDS_MS))
    longest_ms: int = 0

    def add(self, interval_ms: int) -> None:
        self.longest_ms = max(self.longest_ms, interval_ms)
        for i, bound in enumerate(BOUNDS_MS):
            if interval_ms <= bound:
                self.counts[i] += 1
                return

    def buckets(self) -> tuple[tuple[int, int], ...]:
        return tuple(zip(BOUNDS_MS, self.counts))

    @property
    def total(self) -> int:
        return sum(self.counts)
