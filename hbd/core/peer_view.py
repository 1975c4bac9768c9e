"""What this node believes the peer holds, read from the peer's messages (pure, no I/O).

hbd peers state their holdings exactly (`hbd_groups`). A Heartbeat peer speaks in words (`rsc_hold=all`),
and its reports with `isstable=0` announce where it is heading: Heartbeat sends `rsc_hold=none isstable=0
info=standby|shutdown` *before* it stops anything. So until a Heartbeat peer is stable again, or confirms
with `done` or `shutdone`, it is taken to hold what it held before as well. Every message that carries
holdings is applied only when it is newer, by sequence number, than the last one applied: the layer below
delivers retransmitted gap fillers and second-medium copies as they arrive.
"""
from __future__ import annotations

from dataclasses import dataclass

from hbd.core.agreement import Disagreement
from hbd.core.holdings import Topology
from hbd.core.resource_messages import HoldingsReport, StandbyMessage


@dataclass
class PeerView:
    alive: bool = False
    hold: frozenset[str] | None = None  # None: no report since it (re)appeared
    stable: bool = False
    hbd: bool = False  # speaks hbd's extensions (exact group lists)
    gave_up: bool = False  # sent `shutdone`: released everything and left
    fenced: bool = False
    report_seq: int = -1  # seq of the newest holdings message applied
    disagree: Disagreement | None = None  # how its resource configuration differs from ours (None: same)

    @property
    def disputed(self) -> frozenset[str]:
        """Groups the two nodes define differently (or only one defines): never started or moved."""
        return self.disagree.keys if self.disagree else frozenset()

    @property
    def active(self) -> bool:
        """Alive and not leaving: it may hold, take and start groups."""
        return self.alive and not self.gave_up

    def newer(self, seq: int) -> bool:
        """Whether a message carrying the peer's holdings is newer than the last one applied (and note it).
        A message without a sequence number (-1, a local test message) is always applied."""
        if seq >= 0 and seq <= self.report_seq:
            return False
        self.report_seq = max(seq, self.report_seq)
        return True

    def apply_report(self, report: HoldingsReport, topology: Topology, peer: str) -> None:
        """A `resource` report already found newer."""
        announced = topology.resolve(report.word, peer)
        if report.groups is not None:
            self.hold = report.groups
        elif report.stable:
            self.hold = announced
        else:
            self.hold = (self.hold or frozenset()) | announced
        if report.stable is not None:
            self.stable = report.stable
        if report.shutting_down:
            self.stable = False

    def handed_over(self, done: StandbyMessage, groups: frozenset[str], to_peer: bool) -> None:
        """A standby `done`: the peer released `groups` to us, or took them from us (`to_peer`)."""
        if not self.newer(done.seq):
            return
        if done.groups is not None:
            self.hold = done.groups
        elif to_peer:
            self.hold = (self.hold or frozenset()) | groups  # until its next report
        else:
            self.hold = (self.hold or frozenset()) - groups
