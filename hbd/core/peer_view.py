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
from typing import Mapping

from hbd.core.agreement import Disagreement
from hbd.core.holdings import Topology, decode_groups


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

    def newer(self, f: Mapping[str, str]) -> bool:
        """Whether a message carrying the peer's holdings is newer than the last one applied (and note it)."""
        seq = message_seq(f)
        if seq >= 0 and seq <= self.report_seq:
            return False
        self.report_seq = max(seq, self.report_seq)
        return True

    def apply_report(self, f: Mapping[str, str], topology: Topology, peer: str) -> None:
        """A `resource` report already found newer."""
        exact = decode_groups(f.get("hbd_groups"), topology)
        announced = topology.resolve(f.get("rsc_hold", "none"), peer)
        if exact is not None:
            self.hold = exact
        elif f.get("isstable") == "1":
            self.hold = announced
        else:
            self.hold = (self.hold or frozenset()) | announced
        if f.get("isstable") is not None:
            self.stable = f.get("isstable") == "1"
        if f.get("info") == "shutdown":
            self.stable = False

    def handed_over(self, f: Mapping[str, str], topology: Topology, groups: frozenset[str], to_peer: bool) -> None:
        """A standby `done`: the peer released `groups` to us, or took them from us (`to_peer`)."""
        if not self.newer(f):
            return
        exact = decode_groups(f.get("hbd_groups"), topology)
        if exact is not None:
            self.hold = exact
        elif to_peer:
            self.hold = (self.hold or frozenset()) | groups  # until its next report
        else:
            self.hold = (self.hold or frozenset()) - groups


def message_seq(f: Mapping[str, str]) -> int:
    """The message's sequence number (hex, as Heartbeat writes it), or -1 when absent or unreadable."""
    try:
        return int(f.get("seq", ""), 16)
    except ValueError:
        return -1
