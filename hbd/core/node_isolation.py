"""The isolated-master rule of the node core (EDB Failover Manager's; doc/daemon.md), mixed into NodeCore.

With ping nodes configured, a node that holds groups while no ping node answers and the peer has been silent
past warntime (or is dead) gives every group up and restarts (`Restart(isolated=True)`), as after own-heartbeat
loss; while no ping node answers (or none has been judged yet), a takeover from a dead peer is held back and
goes to ownership once a ping node answers. Pure, like the rest of the node core (node.py).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from hbd.core import membership_events as m
from hbd.core import node_events as n
from hbd.core import ownership_types as o
from hbd.core.membership import Membership
from hbd.core.ownership_view import OwnershipView

if TYPE_CHECKING:
    from hbd.core.node import NodeConfig

RESTART_EXTRA_MS = 1000  # own heartbeat lost, or isolated: restart after deadtime + this (Heartbeat)


class IsolationRules:
    """NodeCore's isolation rule; the attributes and the two methods below are NodeCore's own."""

    config: NodeConfig
    peer: str
    membership: Membership
    peer_dead: bool
    ping_reachable: frozenset[str] | None
    isolated: bool
    restarting: bool
    held_back: list[o.Event]

    def _feed(self, event: o.Event, out: list[n.Action]) -> None:
        raise NotImplementedError

    def ownership_view(self) -> OwnershipView:
        raise NotImplementedError

    def _cut_off(self) -> bool:
        """Ping nodes are configured and none answers (or none has been judged yet)."""
        return self.config.ping_nodes > 0 and not self.ping_reachable

    def _takeover(self, event: o.CommUp | o.PeerDied, out: list[n.Action]) -> None:
        """An event that lets ownership take over from a dead peer waits while no ping node answers."""
        if (isinstance(event, o.PeerDied) or not event.peer_alive) and self._cut_off():
            out.append(m.Log("WARN", f"peer {self.peer} dead but no ping node answers: taking nothing over "
                                     "until a ping node answers (isolated)"))
            self.held_back.append(event)
            return
        self._feed(event, out)

    def _joined(self, event: o.PeerJoined, out: list[n.Action]) -> None:
        held, self.held_back = self.held_back, []
        if any(isinstance(e, o.CommUp) for e in held):
            self._feed(o.CommUp(peer_alive=True), out)  # ownership never heard the peer was dead
        elif not held:
            self._feed(event, out)  # a held PeerDied and this PeerJoined cancel out

    def _silent_since_ms(self) -> int:
        """Since when the peer has been silent (ms); 0 if it is dead or was never heard."""
        node = self.membership.nodes.get(self.peer)
        if self.peer_dead or node is None or node.last is None:
            return 0
        return int(node.last * 1000)

    def _isolation_armed(self) -> bool:
        return (self.ping_reachable is not None and not self.ping_reachable and self.config.ping_nodes > 0
                and not self.isolated and not self.restarting and bool(self.ownership_view().held))

    def _isolation_due(self) -> int | None:
        if not self._isolation_armed():
            return None
        return self._silent_since_ms() + self.config.membership.timing.warntime_ms + 1

    def _check_isolation(self, now: int, out: list[n.Action]) -> None:
        due = self._isolation_due()
        if due is None or now < due:
            return
        self.isolated = self.restarting = True
        silent = "dead" if self.peer_dead else f"silent for {now - self._silent_since_ms()} ms"
        out.append(m.Log("CRIT", f"isolated: no ping node answers and peer {self.peer} is {silent}; giving up "
                                 "every group, then restarting"))
        out.append(n.Restart(self.config.membership.timing.deadtime_ms + RESTART_EXTRA_MS, isolated=True))
        self._feed(o.ShutdownRequested(), out)
