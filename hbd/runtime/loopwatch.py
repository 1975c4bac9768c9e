"""Where late heartbeats come from: how late the heartbeat timer fires, and how long GC pauses take.

The membership service tells `timer_fired(due, now)` each time its timer runs; the lag beyond `due` is
the loop's delay (another callback running long, the GIL held by a worker thread, the CPU taken by other
processes). `gc.callbacks` times every collection. Both keep a maximum, a count of lags over a bound and
a small histogram, shown under `heartbeat_path` in `hbd status` and by the stress benchmarks.
"""
from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from typing import Any

LAG_BOUNDS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2**31)


def _bucket(ms: float) -> int:
    for bound in LAG_BOUNDS_MS:
        if ms <= bound:
            return bound
    return LAG_BOUNDS_MS[-1]


@dataclass
class LoopWatch:
    lag_counts: dict[int, int] = field(default_factory=lambda: dict.fromkeys(LAG_BOUNDS_MS, 0))
    lag_max_ms: float = 0.0
    gc_counts: dict[int, int] = field(default_factory=lambda: dict.fromkeys(LAG_BOUNDS_MS, 0))
    gc_max_ms: float = 0.0
    gc_by_generation: dict[int, int] = field(default_factory=lambda: {0: 0, 1: 0, 2: 0})
    drained: int = 0  # datagrams found waiting in a queue when the timer ran (the reader was behind)
    _gc_start: float = 0.0
    _installed: bool = False

    def timer_fired(self, due: float, now: float) -> None:
        lag_ms = max(0.0, (now - due) * 1000)
        self.lag_counts[_bucket(lag_ms)] += 1
        if lag_ms > self.lag_max_ms:
            self.lag_max_ms = lag_ms

    def install_gc_timer(self) -> None:
        if not self._installed:
            gc.callbacks.append(self._gc)
            self._installed = True

    def remove_gc_timer(self) -> None:
        if self._installed:
            gc.callbacks.remove(self._gc)
            self._installed = False

    def _gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
            return
        ms = (time.perf_counter() - self._gc_start) * 1000
        self.gc_counts[_bucket(ms)] += 1
        self.gc_by_generation[info.get("generation", 0)] = self.gc_by_generation.get(info.get("generation", 0), 0) + 1
        if ms > self.gc_max_ms:
            self.gc_max_ms = ms

    def as_dict(self) -> dict[str, Any]:
        return {"timer_lag_max_ms": round(self.lag_max_ms, 2),
                "timer_lag_ms": {str(b): n for b, n in self.lag_counts.items() if n},
                "gc_pause_max_ms": round(self.gc_max_ms, 2),
                "gc_pause_ms": {str(b): n for b, n in self.gc_counts.items() if n},
                "gc_collections": dict(self.gc_by_generation),
                "read_late": self.drained}
