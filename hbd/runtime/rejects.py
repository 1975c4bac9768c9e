"""Every dropped packet counted by kind; log lines about them rate-limited, so a flood cannot fill the disk.

Kinds are the transport's `RejectReason` (before or at authentication) and membership's `DropKind`
(authenticated but refused: replays of an older generation, old sequence numbers, unknown nodes).
Per kind, the first REJECT_LOG_BURST lines of each REJECT_LOG_WINDOW_S window are logged; at the end of a
window with more, one line says how many of each kind were not logged. `hbd status` shows the totals.
"""
from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field

REJECT_LOG_BURST = 5
REJECT_LOG_WINDOW_S = 60.0


@dataclass
class RejectCounter:
    total: Counter = field(default_factory=Counter)  # kind -> count since start
    logged_in_window: Counter = field(default_factory=Counter)
    window_start: float | None = None

    def count(self, kind: enum.Enum, now: float) -> tuple[bool, str | None]:
        """Count one drop. Returns (log this one?, the summary line of the window that just closed)."""
        self.total[kind] += 1
        summary = None
        if self.window_start is None or now - self.window_start > REJECT_LOG_WINDOW_S:
            summary = self.summary()
            self.window_start = now
            self.logged_in_window.clear()
        self.logged_in_window[kind] += 1
        return self.logged_in_window[kind] <= REJECT_LOG_BURST, summary

    def summary(self) -> str | None:
        over = {k: n - REJECT_LOG_BURST for k, n in self.logged_in_window.items() if n > REJECT_LOG_BURST}
        if not over:
            return None
        parts = ", ".join(f"{n} {k.value}" for k, n in sorted(over.items(), key=lambda kv: kv[0].name))
        return f"dropped packets not logged in the last {REJECT_LOG_WINDOW_S:.0f} s: {parts}"

    def as_dict(self) -> dict[str, int]:
        return {k.name.lower(): n for k, n in sorted(self.total.items(), key=lambda kv: kv[0].name)}
