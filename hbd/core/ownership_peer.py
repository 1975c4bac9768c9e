"""The peer's side of the ownership step: membership news of the peer, and its resource-layer messages.

Part of the Ownership class (hbd/core/ownership.py), kept apart to keep each file readable: how the peer
coming, going and reporting changes what this node believes it holds (peer_view.py), and when a group held
by both nodes is released. The messages arrive decoded (resource_messages.py); nothing here reads a raw field.
"""
from __future__ import annotations

from typing import Mapping, assert_never

from hbd.core import agreement
from hbd.core.group_states import GroupOperations
from hbd.core.holdings import Topology
from hbd.core.ownership_types import (
    Announce, Cause, CommUp, Fence, Fenced, GroupState, Op, Outbox, PeerDied, PeerJoined, Phase, Policy, Received,
)
from hbd.core.peer_view import PeerView
from hbd.core.placement import Desired
from hbd.core.resource_messages import (
    HoldingsReport, IpRequest, PeerStarting, ShutdownNotice, StandbyMessage, TakeoverRequest, Unrecognised, decode,
    report_fields,
)
from hbd.core.standby import StandbyExchange


class PeerEvents:
    # Provided by Ownership.
    me: str
    peer: str
    topology: Topology
    policy: Policy
    phase: Phase
    peer_view: PeerView
    groups: GroupOperations
    standby: StandbyExchange
    start_deadline: int | None
    fence_at: int | None
    needs_failback: bool
    start_failed: dict[str, int]
    handoff: set[str]
    reannounce: set[str]

    @property
    def held(self) -> frozenset[str]:
        return self.groups.held

    def send_report(self, out: Outbox, stable: bool | None = None, rsc_hold: str | None = None,
                    **extra: str) -> None:
        raise NotImplementedError

    def enqueue(self, op: Op, key: str, cause: Cause, reason: str) -> None:
        raise NotImplementedError

    def _desired(self, peer_alive: bool) -> Mapping[str, Desired]:
        raise NotImplementedError

    # --- membership news of the peer ------------------------------------------------------------

    def _comm_up(self, ev: CommUp, now: int, out: Outbox) -> None:
        self.phase = Phase.RUNNING
        if ev.peer_alive:
            self.peer_view.alive = True
            self.start_deadline = now + self.policy.rqstdelay_ms
            out.send(**report_fields(self.topology, self.held, self.me, t="starting"))
        else:
            self._peer_gone(now, out, announced=False)

    def _peer_died(self, ev: PeerDied, now: int, out: Outbox) -> None:
        if ev.node != self.peer or not self.peer_view.alive:
            return
        if self.peer_view.gave_up:
            out.log("info", f"Dead node {self.peer} gave up resources.")
            self.peer_view.alive = False
            return
        self._peer_gone(now, out, announced=False)

    def _peer_gone(self, now: int, out: Outbox, announced: bool) -> None:
        pv = self.peer_view
        pv.alive, pv.hold, pv.stable = False, frozenset(), False
        self.standby.cancel(now, out, "peer is gone")
        self.start_deadline = None
        if not announced and self.policy.fencing and not pv.fenced:
            out.add(Fence(self.peer))
            self.fence_at = now + self.policy.fence_retry_ms
        elif not announced:
            out.log("WARN", "No STONITH device configured.")
            out.log("WARN", "Shared disks are not protected.")
        if self.policy.auto_failback != "off":
            self.needs_failback = True
        if set(self.topology.keys) - self.held:
            out.log("info", f"Resources being acquired from {self.peer}.")
        if pv.disputed - self.held:
            out.log("CRIT", f"Not taking over {' '.join(self.topology.ordered(pv.disputed - self.held))} from "
                            f"{self.peer}: its resource configuration differs from ours")

    def _fenced(self, ev: Fenced, out: Outbox) -> None:
        if ev.node != self.peer or self.peer_view.alive:
            return
        if ev.ok:
            self.peer_view.fenced = True
            self.fence_at = None
            out.log("info", f"node {self.peer} now reset.")
        else:
            out.log("ERROR", f"STONITH of {self.peer} failed.  Retrying...")

    def _peer_joined(self, ev: PeerJoined, now: int, out: Outbox) -> None:
        if ev.node != self.peer:
            return
        if ev.after_partition:
            out.log("CRIT", f"Cluster node {self.peer} returning after partition.")
            # Clients may have learnt the peer's MAC for our addresses while it held them too.
            self.reannounce |= {k for k, s in self.groups.state.items() if s is GroupState.RUNNING}
        self.peer_view = PeerView(alive=True, hbd=self.peer_view.hbd)
        self.fence_at = None
        self.standby.cancel(now, out, f"{self.peer} restarted or rejoined")
        # Drop queued takeovers: their reason (the peer's death) no longer holds.
        self.groups.drop(Op.START)
        # hbd_ask: the peer may have reported before it could hear us again; ask it to report once more.
        self.send_report(out, hbd_ask="1")

    # --- the peer's messages --------------------------------------------------------------------

    def _received(self, ev: Received, now: int, out: Outbox) -> None:
        if ev.node != self.peer:
            return
        m = decode(ev.fields, self.topology)
        if m.hbd:
            self.peer_view.hbd = True
        if m.digests is not None:
            self._compare_config(m.digests, out)
        body = m.body
        match body:
            case PeerStarting():
                self._peer_starting(body, out)
            case HoldingsReport():
                self._peer_resource(body, out)
            case StandbyMessage():
                self.standby.received(body, now, out)
            case TakeoverRequest():
                self.standby.takeover_requested(body.word, now, out)
            case ShutdownNotice():
                self._peer_shutdone(now, out)
            case IpRequest():
                out.log("WARN", f"ip-request from {self.peer} ignored: hbd runs auto_failback on or off only "
                                "(set the same auto_failback on both nodes)")
            case Unrecognised():
                pass  # other message types of the resource layer: not ownership's
            case _:
                assert_never(body)

    def _compare_config(self, value: str, out: Outbox) -> None:
        found = agreement.compare(self.topology, value) or None
        if found == self.peer_view.disagree:
            return
        self.peer_view.disagree = found
        if found:
            out.log("CRIT", f"Resource configuration (haresources) differs between {self.me} and {self.peer}: "
                            f"{found.describe(self.topology, self.peer)}; these groups are not started, taken "
                            "over or handed over until both nodes define them alike")
        else:
            out.log("info", f"Resource configuration of {self.peer} now matches ours.")

    def _peer_starting(self, m: PeerStarting, out: Outbox) -> None:
        pv = self.peer_view
        if pv.newer(m.seq):
            pv.alive, pv.stable, pv.gave_up = True, False, False
            pv.hold = m.groups
        if self.policy.auto_failback != "off" and any(self.topology.preferred(k) == self.peer for k in self.held):
            self.needs_failback = True
        self.send_report(out)

    def _peer_resource(self, r: HoldingsReport, out: Outbox) -> None:
        pv = self.peer_view
        pv.alive = True
        if r.ask:
            self.send_report(out)
        if not pv.newer(r.seq):
            return  # overtaken by a newer report that arrived first
        pv.apply_report(r, self.topology, self.peer)
        hold = pv.hold or frozenset()
        if pv.stable:
            self._forget_failures(hold)
        both = hold & self.held
        if both and self.phase is Phase.RUNNING:
            self._resolve_double_ownership(both, out)
        for key in self.topology.ordered(self.reannounce - hold):
            self.reannounce.discard(key)
            if self.groups.state[key] is GroupState.RUNNING:
                out.log("info", f"Resource group {key}: {self.peer} no longer holds it; announcing its "
                                "addresses again")
                out.add(Announce(key))

    def _forget_failures(self, keys: frozenset[str]) -> None:
        """The peer runs these groups, stably: a start that failed here (often because the peer still held
        an address) says nothing about a later planned move, and there is nothing left to hand to it."""
        for key in keys:
            self.start_failed.pop(key, None)
            self.handoff.discard(key)

    def _resolve_double_ownership(self, both: frozenset[str], out: Outbox) -> None:
        """Both nodes hold a group (after a partition, or a daemon restart that found it running): the
        placement says which keeps it (Heartbeat's: the group's preferred node); the other releases it."""
        desired = self._desired(peer_alive=True)  # it just reported holding them
        mine = [k for k in both if desired[k].holder == self.me]
        if mine:
            out.log("ERROR", "Both machines own our resources!")
            self.reannounce.update(mine)
        theirs = [k for k in self.topology.ordered(both) if desired[k].holder != self.me]
        if theirs:
            out.log("ERROR", "Both machines own foreign resources!")
        for key in reversed(theirs):
            if self.groups.state[key] is not GroupState.STOPPING:
                self.enqueue(Op.STOP, key, Cause.DOUBLE_OWNERSHIP, f"also held by {self.peer}, its preferred node")

    def _peer_shutdone(self, now: int, out: Outbox) -> None:
        out.log("info", f"Received shutdown notice from '{self.peer}'.")
        self.peer_view.gave_up = True
        self._peer_gone(now, out, announced=True)
        self.peer_view.alive = True  # still heard until it stops sending; it holds nothing
        self.peer_view.hold = frozenset()
