"""The pre-probe's clock, a deadline of the node core (hbd.core.node), not a poll of the runtime.

When the live peer holding groups with addresses (`probe_groups`) has been silent for its deadtime minus
window minus lead, the node core asks for one pre-probe round for that silence (`ProbeNow`): the runtime
(hbd/runtime/preprobe.py) listens for the addresses for `window_ms`, and the round ends `lead_ms` before the
peer's death verdict (doc/daemon.md). Window and lead are fractions of the peer's advertised deadtime,
bounded: a short deadtime gets a short window, and the window is never longer than IPaddr2's own probe.

What a round heard comes back as `PreProbeVerdict`s, and the decision is taken here too: a takeover from the
dead peer (`Cause.PEER_DEAD`) of a group whose addresses all stayed silent during a whole, fresh window is
started with the typed start option `peer_released` (`StartGroup.pre_probe_silent`): IPaddr2 does not
listen again. The runtime only listens and reports; it decides nothing.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from hbd.core import node_events as n
from hbd.core.membership_peers import NodeState
from hbd.core.ownership_view import OwnershipView

# Pre-probe window and lead: fractions of the peer's deadtime, bounded (doc/daemon.md, runtime/preprobe.py).
WINDOW_PERMILLE, WINDOW_MIN_MS, WINDOW_MAX_MS = 200, 5, 200  # at most IPaddr2's own probe
LEAD_PERMILLE, LEAD_MIN_MS, LEAD_MAX_MS = 300, 3, 80
FRESH_MIN_MS, FRESH_MAX_MS = 50, 500  # bounds of a silent verdict's freshness at the takeover
WHOLE_WINDOW_PERMILLE = 950  # a verdict counts only if every address was listened to for this much of the window


@dataclass(frozen=True)
class ProbeTiming:
    window_ms: int
    lead_ms: int

    @property
    def start_after_ms(self) -> int:
        """How long before the peer's verdict a round starts."""
        return self.window_ms + self.lead_ms

    @property
    def fresh_ms(self) -> int:
        """How long after a round a silent verdict still stands for the takeover: the lead and the verdict's
        own lateness (a loaded loop), bounded; an older one is not used (IPaddr2 probes)."""
        return min(FRESH_MAX_MS, max(FRESH_MIN_MS, self.window_ms + 2 * self.lead_ms))


@functools.lru_cache(maxsize=64)
def probe_timing(deadtime_ms: int) -> ProbeTiming:
    window = min(WINDOW_MAX_MS, max(WINDOW_MIN_MS, deadtime_ms * WINDOW_PERMILLE // 1000))
    lead = min(LEAD_MAX_MS, max(LEAD_MIN_MS, deadtime_ms * LEAD_PERMILLE // 1000))
    return ProbeTiming(window, lead)


@dataclass(frozen=True)
class ProbeTarget:
    """What a round would probe: the live peer's last packet (s), its deadtime (ms), its groups with addresses."""

    last_s: float
    deadtime_ms: int
    groups: frozenset[str]

    @property
    def verdict_ms(self) -> int:
        """When the peer will be declared dead if it stays silent."""
        return int(self.last_s * 1000) + self.deadtime_ms


class PreProbeClock:
    """One round per silence of the peer, `start_after_ms` before its verdict."""

    def __init__(self, groups: frozenset[str], window_ms: int | None = None, lead_ms: int | None = None):
        self.groups = groups
        self.window_ms = window_ms  # fixed timing (tests); None: scaled to the peer's deadtime
        self.lead_ms = lead_ms
        self.probed_silence: float | None = None  # the peer's last packet a round was asked for
        self.asked: dict[str, ProbeTiming] = {}  # group -> the timing of the last round asked for it
        self.verdicts: dict[str, tuple[n.PreProbeVerdict, ProbeTiming]] = {}

    def target(self, peer: NodeState | None, view: OwnershipView, default_deadtime_s: float) -> ProbeTarget | None:
        """The round to come for the live, connected peer `peer` (the caller checked it is neither dead nor
        unheard of before), or None: no group with addresses held there, or already probed this silence."""
        pv = view.peer
        if not pv.active or not pv.hold:
            return None
        groups = pv.hold & self.groups
        if not groups or peer is None or peer.last is None or peer.status == "dead":
            return None
        if self.probed_silence == peer.last:
            return None  # already probed during this silence
        dt_ms = round((peer.dt_s if peer.dt_s is not None else default_deadtime_s) * 1000)
        return ProbeTarget(peer.last, dt_ms, groups)

    def timing(self, deadtime_ms: int) -> ProbeTiming:
        scaled = probe_timing(deadtime_ms)
        if self.window_ms is None and self.lead_ms is None:
            return scaled
        return ProbeTiming(scaled.window_ms if self.window_ms is None else self.window_ms,
                           scaled.lead_ms if self.lead_ms is None else self.lead_ms)

    def due(self, target: ProbeTarget) -> int:
        return target.verdict_ms - self.timing(target.deadtime_ms).start_after_ms

    def fire(self, target: ProbeTarget, now: int) -> n.ProbeNow | None:
        """The round, once, when `now` is inside [verdict - window - lead, verdict)."""
        timing = self.timing(target.deadtime_ms)
        if target.verdict_ms - timing.start_after_ms <= now < target.verdict_ms:
            self.probed_silence = target.last_s
            for group in target.groups:
                self.asked[group] = timing
            return n.ProbeNow(target.groups, timing.window_ms, timing.lead_ms)
        return None

    # --- what a round heard, and what it means for the takeover -------------------------------------------

    def heard(self, verdict: n.PreProbeVerdict) -> None:
        """A round's verdict for one group; one for a group no round was asked for is ignored."""
        timing = self.asked.get(verdict.group)
        if timing is not None:
            self.verdicts[verdict.group] = (verdict, timing)

    def silent(self, group: str, now: int) -> bool:
        """Whether a takeover of `group` at `now` may skip the duplicate-address probe: every address of the
        group stayed silent during a whole window of the last round, which ended at most `fresh_ms` ago.
        Any answer, a cut-short window or no fresh verdict keeps the probe."""
        found = self.verdicts.get(group)
        if found is None:
            return False
        verdict, timing = found
        return (verdict.silent and verdict.listened_ms * 1000 >= timing.window_ms * WHOLE_WINDOW_PERMILLE
                and now - verdict.ended_ms <= timing.fresh_ms)
