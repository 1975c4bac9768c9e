"""A frozen view of the ownership core after a step: what status, the driver and the daemon read.

Readers get a snapshot, never the core's working state, so nothing outside the core can change it or
come to depend on how it keeps its books.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from hbd.core.group_states import Queued
from hbd.core.holdings import Topology
from hbd.core.ownership_types import GroupState, Phase
from hbd.core.standby import StandbySnapshot


@dataclass(frozen=True)
class PeerSnapshot:
    node: str
    alive: bool
    stable: bool
    hold: frozenset[str] | None  # None: no report since it (re)appeared
    gave_up: bool
    fenced: bool
    hbd: bool
    disputed: frozenset[str]  # groups the two nodes define differently

    @property
    def active(self) -> bool:
        return self.alive and not self.gave_up


@dataclass(frozen=True)
class OwnershipView:
    me: str
    topology: Topology
    phase: Phase
    stable: bool
    groups: Mapping[str, GroupState]  # a copy, in configuration order
    busy: str | None  # the group whose start or stop is running
    queued: tuple[Queued, ...]
    peer: PeerSnapshot
    standby: StandbySnapshot | None
    awaiting_fence: bool  # the peer is dead and not yet fenced: no takeover until it is

    @property
    def held(self) -> frozenset[str]:
        return frozenset(k for k, s in self.groups.items() if s.held)

    @property
    def in_flux(self) -> bool:
        """A group operation runs or waits, or a standby exchange is under way."""
        return self.busy is not None or bool(self.queued) or self.standby is not None

    def owner(self, key: str) -> str | None:
        """Who runs the group, as far as this node knows: itself, the peer (by its latest report), or nobody."""
        if self.groups[key].held:
            return self.me
        if self.peer.alive and self.peer.hold is not None and key in self.peer.hold:
            return self.peer.node
        return None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready (the `snapshot` of earlier releases)."""
        sb = self.standby
        return {
            "node": self.me, "phase": self.phase.value, "stable": self.stable,
            "groups": {k: s.value for k, s in self.groups.items()},
            "peer": {"node": self.peer.node, "alive": self.peer.alive, "stable": self.peer.stable,
                     "holds": sorted(self.peer.hold) if self.peer.hold is not None else None},
            "standby": None if sb is None else {"role": sb.role.value, "which": sb.word, "phase": sb.phase.value,
                                                "groups": list(sb.groups)},
        }
