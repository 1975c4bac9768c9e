"""The self-check's clock: how long our own heartbeats have been out without one coming back (heartbeat.md §7.8).

Rule: this node declares its own heartbeat lost only when a status packet it *sent* has been out for longer
than deadtime (initdead before the first one ever came back) and neither it nor any later packet of ours has
come back on any medium. The clock starts at the send, not at the last packet that came back, so a daemon
whose own loop stalled (it sent nothing for a while: GC, a blocked write, CPU starvation) does not judge
itself dead when it wakes: silence it did not send is not a lost heartbeat. The runtime reads every socket
before a verdict, so a packet of ours waiting in a receive queue also counts as come back.
"""
from __future__ import annotations

from dataclasses import dataclass, field

MAX_OUTSTANDING = 4096  # bounds memory if nothing ever comes back; the verdict comes long before this


@dataclass
class OwnHeartbeat:
    outstanding: dict[int, float] = field(default_factory=dict)  # seq -> when sent, oldest first
    heard: bool = False  # one of our packets came back at least once

    def sent(self, seq: int, now: float) -> None:
        if len(self.outstanding) < MAX_OUTSTANDING:
            self.outstanding[seq] = now

    def came_back(self, seq: int) -> None:
        """A packet of ours arrived: it and everything sent before it are no longer outstanding."""
        self.heard = True
        for old in [s for s in self.outstanding if s <= seq]:
            del self.outstanding[old]

    def deadline(self, deadtime_s: float, initdead_s: float) -> float | None:
        """When the oldest outstanding packet has been out too long; None when nothing is outstanding."""
        if not self.outstanding:
            return None
        oldest = next(iter(self.outstanding.values()))
        return oldest + (deadtime_s if self.heard else initdead_s)

    def reset(self) -> None:
        self.outstanding.clear()
