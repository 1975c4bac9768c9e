"""Every dropped packet counted by kind; log lines about them rate-limited, so a flood cannot fill the disk.

Kinds are the transport's `RejectReason` (before or at authentication) and membership's `DropKind`
(authenticated but refused: replays of an older generation, old sequence numbers, unknown nodes).
Per kind, the first REJECT_LOG_BURST lines of each REJECT_LOG_WINDOW_S window are logged; at the end of a
window with more, one line says how many of each kind were not logged. `hbd status` shows the totals.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

REJECT_LOG_BURST = 5
REJECT_LOG_WINDOW_S = 60.0


class _Slot:
    __slots__ = ("total", "in_window")

    def __init__(self) -> None:
        self.total = 0
        self.in_window = 0


@dataclass
class RejectCounter:
    # one slot per kind: a single dictionary lookup per drop (an Enum's hash is Python code, and a flood
    # makes this the hottest path of the daemon)
    slots: dict[enum.Enum, _Slot] = field(default_factory=dict)
    window_start: float | None = None

    @property
    def total(self) -> dict[enum.Enum, int]:
        """kind -> count since start."""
        return {k: slot.total for k, slot in self.slots.items()}

    def count(self, kind: enum.Enum, now: float) -> tuple[bool, str | None]:
        """Count one drop. Returns (log this one?, the summary line of the window that just closed)."""
        slot = self.slots.get(kind)
        if slot is None:
            slot = self.slots[kind] = _Slot()
        slot.total += 1
        summary = None
        if self.window_start is None or now - self.window_start > REJECT_LOG_WINDOW_S:
            summary = self.summary()
            self.window_start = now
            for other in self.slots.values():
                other.in_window = 0
        slot.in_window += 1
        return slot.in_window <= REJECT_LOG_BURST, summary

    def summary(self) -> str | None:
        over = {k: slot.in_window - REJECT_LOG_BURST for k, slot in self.slots.items()
                if slot.in_window > REJECT_LOG_BURST}
        if not over:
            return None
        parts = ", ".join(f"{n} {k.value}" for k, n in sorted(over.items(), key=lambda kv: kv[0].name))
        return f"dropped packets not logged in the last {REJECT_LOG_WINDOW_S:.0f} s: {parts}"

    def as_dict(self) -> dict[str, int]:
        return {k.name.lower(): n for k, n in sorted(self.total.items(), key=lambda kv: kv[0].name)}
