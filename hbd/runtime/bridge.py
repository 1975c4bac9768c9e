"""From the membership layer's actions to the ownership core's events (what a node change means for groups).

- CommUp -> CommUp(peer_alive: the peer is not dead at that moment);
- NodeChanged(peer, "dead") -> PeerDied; the peer heard again after it was dead -> PeerJoined;
- PeerRestarted (a higher generation) -> PeerJoined, once, even when a NodeChanged follows;
- PeerReturned (same generation after a death: a healed partition) -> PeerJoined(after_partition=True);
- Deliver(message) from the peer -> Received(peer, its string fields, `seq` included).
Before CommUp only Deliver passes (the core ignores peer changes until it runs).
"""
from __future__ import annotations

from dataclasses import dataclass

from hbd.core import membership_events as m
from hbd.core import ownership_types as o


@dataclass
class Bridge:
    peer: str
    comm_up: bool = False
    peer_dead: bool = False

    def translate(self, action: m.Action, peer_status: str | None = None) -> list[o.Event]:
        """`peer_status`: the membership view's status of the peer, needed for CommUp."""
        if isinstance(action, m.CommUp):
            self.comm_up = True
            alive = peer_status not in (None, "dead")
            self.peer_dead = not alive
            return [o.CommUp(peer_alive=alive)]
        if isinstance(action, m.Deliver):
            src = action.message.src
            if src != self.peer:
                return []
            first: dict[str, str] = {}
            for key, value in action.message.fields:
                if isinstance(value, str) and key not in first:
                    first[key] = value  # the first occurrence wins, as in Heartbeat's lookup
            return [o.Received(src, first)]
        if not self.comm_up:
            if isinstance(action, m.NodeChanged) and action.node == self.peer:
                self.peer_dead = action.status == "dead"
            return []
        if isinstance(action, m.NodeChanged) and action.node == self.peer:
            if action.status == "dead":
                if self.peer_dead:
                    return []
                self.peer_dead = True
                return [o.PeerDied(self.peer)]
            if self.peer_dead:
                self.peer_dead = False
                return [o.PeerJoined(self.peer)]
            return []
        if isinstance(action, m.PeerRestarted) and action.node == self.peer:
            self.peer_dead = False
            return [o.PeerJoined(self.peer)]
        if isinstance(action, m.PeerReturned) and action.node == self.peer:
            self.peer_dead = False
            return [o.PeerJoined(self.peer, after_partition=True)]
        return []
