"""Who runs which resource group: the pure ownership core of a two-node cluster (no I/O, no clock).

Drive it with `handle(event, now_ms) -> [actions]`. It speaks Heartbeat's messages (`starting`, `resource`,
`ask_resources`, `hb_takeover`, `shutdone`) so that an hbd node and a Heartbeat 3.0 node can share a cluster.

The safety rule everything else rests on (`_may_start`): a group is started only
- when the peer is alive: after the peer's latest report says it does not hold the group; or
- when the peer is dead: after it gave its groups up (`shutdone`), or was fenced, or no fencing is configured.
Which groups a node wants (`_wanted`, start_rules.py) are the groups nobody holds that the placement
(placement.py) puts here: while the peer is alive, Heartbeat's placement gives a node only its own preferred
groups; peer-preferred groups move only through an explicit handover (standby.py, shutdown notice) or the
peer's death. Group states change only along the edges of group_states.py; operations run one at a time.
The peer's side of a step is ownership_peer.py; how its reports are read, peer_view.py and
resource_messages.py. Readers outside the core get a frozen `view()` (ownership_view.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, assert_never

from hbd.core.group_states import GroupOperations, Queued
from hbd.core.holdings import Topology, encode_groups
from hbd.core.ownership_types import (
    Action, AdminReply, AdminRequest, Cause, CommUp, Event, Fence, Fenced, GroupStarted, GroupState,
    GroupStopped, HandOff, HandOffFailed, Op, Outbox, PeerDied, PeerJoined, Phase, Policy, Probed, Received,
    ShutdownComplete, ShutdownRequested, StopFailedForGood, StopGroup, Tick,
)
from hbd.core import start_rules as rules
from hbd.core.ownership_peer import PeerEvents
from hbd.core.ownership_view import OwnershipView, PeerSnapshot
from hbd.core.peer_view import PeerView
from hbd.core.placement import Desired, Placement, PreferredNode
from hbd.core.resource_messages import HBD_VERSION, report_fields
from hbd.core.standby import StandbyExchange

__all__ = ["Ownership", "Phase", "Queued", "HBD_VERSION"]


@dataclass
class Ownership(PeerEvents):
    me: str
    peer: str
    topology: Topology
    policy: Policy = field(default_factory=Policy)
    placement: Placement | None = None  # who should hold what (default: preferred node, auto_failback)

    def __post_init__(self) -> None:
        self.groups = GroupOperations(self.topology.keys)
        if self.placement is None:
            self.placement = PreferredNode(auto_failback=self.policy.auto_failback != "off")
        self.phase = Phase.PROBING
        self.peer_view = PeerView()
        self.stop_attempts: dict[str, int] = {}
        self.retry_at: int | None = None  # a failed stop of `busy` is retried then
        # Groups that failed to start here, with when: offered to the peer, and tried here again only after
        # `failed_retry_ms` (the failure may be leftovers of a dead peer, or a fault that gets repaired).
        self.start_failed: dict[str, int] = {}
        self.handoff: set[str] = set()  # failed here, to be handed to the peer
        self.needs_failback = False
        self.failback_not_before = 0
        self.start_deadline: int | None = None  # Heartbeat's RQSTDELAY when both nodes start together
        self.fence_at: int | None = None
        self.standby = StandbyExchange(self, self.me, self.peer, self.topology, self.policy)
        self.last_report: tuple[frozenset[str], bool] | None = None
        # Groups kept here while the peer held them too: re-announced once the peer's report shows it let go.
        self.reannounce: set[str] = set()

    # --- queries --------------------------------------------------------------------------------

    @property
    def held(self) -> frozenset[str]:
        return self.groups.held

    @property
    def idle(self) -> bool:
        """Running, with no group operation running or queued."""
        return self.phase is Phase.RUNNING and self.groups.idle

    @property
    def stable(self) -> bool:
        return self.idle and not self.standby.active

    def next_deadline(self, now: int) -> int | None:
        """When the runtime must send the next Tick (None: no timer pending); always later than `now`."""
        times = [self.retry_at, self.start_deadline, self.fence_at, self.standby.deadline]
        if self.needs_failback:
            times.append(self.failback_not_before)
        times.extend(t + self.policy.failed_retry_ms for t in self.start_failed.values())
        future = [t for t in times if t is not None and t > now]
        return min(future) if future else None

    def view(self) -> OwnershipView:
        pv = self.peer_view
        return OwnershipView(
            self.me, self.topology, self.phase, self.stable, {k: self.groups.state[k] for k in self.topology.keys},
            self.groups.busy, tuple(self.groups.queue),
            PeerSnapshot(self.peer, pv.alive, pv.stable, pv.hold, pv.gave_up, pv.fenced, pv.hbd, pv.disputed),
            self.standby.snapshot(), self.fence_at is not None and not pv.alive)

    def snapshot(self) -> dict[str, object]:
        return self.view().as_dict()

    # --- what the standby exchange may do (hbd/core/standby.py StandbyHost) ----------------------

    def enqueue(self, op: Op, key: str, cause: Cause, reason: str) -> None:
        self.groups.enqueue(op, key, cause, reason)

    def report_soon(self) -> None:
        self.last_report = None

    def failed_here(self, key: str) -> bool:
        return key in self.start_failed

    def forget_failure(self, key: str) -> None:
        self.start_failed.pop(key, None)

    def failback_not_done(self, now: int) -> None:
        self.needs_failback, self.failback_not_before = True, now + self.policy.standby_reply_ms

    # --- the step -------------------------------------------------------------------------------

    def handle(self, event: Event, now: int) -> list[Action]:
        out = Outbox()
        if self.phase is Phase.DOWN:
            return []
        match event:
            case Probed():
                self._probed(event, out)
            case CommUp():
                self._comm_up(event, now, out)
            case PeerDied():
                self._peer_died(event, now, out)
            case PeerJoined():
                self._peer_joined(event, now, out)
            case Received():
                self._received(event, now, out)
            case GroupStarted():
                self._group_started(event, now, out)
            case GroupStopped():
                self._group_stopped(event, now, out)
            case Fenced():
                self._fenced(event, out)
            case AdminRequest():
                self._admin(event, now, out)
            case ShutdownRequested():
                self._shutdown(now, out)
            case HandOff():
                self._hand_off(event, now, out)
            case Tick():
                self._tick(now, out)
            case _:
                assert_never(event)
        self._settle(now, out)
        return out.actions

    def _probed(self, ev: Probed, out: Outbox) -> None:
        for key in self.topology.ordered(ev.running | ev.partial):
            if key in ev.partial and key not in ev.running:
                self.groups.change_state(key, GroupState.PARTIAL, Cause.PROBED, out)
                out.log("WARN", f"Resource group {key} is partly running here: holding it, and starting the "
                                "rest in plan order once it may run here")
            else:
                self.groups.change_state(key, GroupState.RUNNING, Cause.PROBED, out)
                out.log("WARN", f"Resource group {key} is already running here: keeping it")
        self.phase = Phase.WAITING

    # --- outcomes of group operations -----------------------------------------------------------

    def _group_started(self, ev: GroupStarted, now: int, out: Outbox) -> None:
        if self.groups.busy != ev.key:
            return
        if ev.ok:
            self.groups.finish(ev.key, GroupState.RUNNING, out)
            self.start_failed.pop(ev.key, None)
            self.handoff.discard(ev.key)  # a retry succeeded: the group stays here (auto_failback decides)
            out.log("info", f"Resource group {ev.key} started.")
            return
        self.groups.finish(ev.key, GroupState.STOPPED, out)
        self.start_failed[ev.key] = now
        out.log("CRIT", f"Giving up resources due to failure of {ev.reason or ev.key}")
        self.handoff.add(ev.key)  # offered to the peer once both sides are stable

    def _group_stopped(self, ev: GroupStopped, now: int, out: Outbox) -> None:
        if self.groups.busy != ev.key:
            return
        if ev.ok:
            self.groups.finish(ev.key, GroupState.STOPPED, out)
            self.stop_attempts.pop(ev.key, None)
            self.reannounce.discard(ev.key)
            out.log("info", f"Resource group {ev.key} stopped.")
            return
        attempts = self.stop_attempts.get(ev.key, 0) + 1
        self.stop_attempts[ev.key] = attempts
        if attempts <= self.policy.stop_retries:
            self.retry_at = now + self.policy.stop_retry_ms
            out.log("ERROR", f"stop escalation: group {ev.key}: stop attempt {attempts} of "
                             f"{self.policy.stop_retries + 1} failed; retrying in {self.policy.stop_retry_ms} ms")
            return
        self.stop_attempts.pop(ev.key, None)
        self.groups.finish(ev.key, GroupState.FAILED, out)
        escalation = self.policy.on_stop_failure
        out.log("CRIT", f"Resource STOP failure for group {ev.key}: it may still be running here; "
                        f"holding it so that {self.peer} never starts it")
        out.log("CRIT", f"stop escalation: group {ev.key}: every attempt failed; on_stop_failure "
                        f"{escalation.value}")
        out.add(StopFailedForGood(ev.key, escalation))

    # --- admin, shutdown, timers ----------------------------------------------------------------

    def _admin(self, ev: AdminRequest, now: int, out: Outbox) -> None:
        if self.phase is not Phase.RUNNING:
            out.add(AdminReply(ev.request_id, False, f"not ready: {self.phase.value}"))
            return
        if ev.kind == "standby":
            self.standby.start_giving(ev.which, None, now, out, ev.request_id)
        else:
            self.standby.request_takeover(ev.which, now, out, ev.request_id)

    def _hand_off(self, ev: HandOff, now: int, out: Outbox) -> None:
        if self.phase is not Phase.RUNNING or self.groups.state.get(ev.key) is not GroupState.RUNNING:
            return  # it left, or is being stopped already
        self.start_failed[ev.key] = now  # not taken back on our own within failed_retry_ms
        self.handoff.add(ev.key)
        out.log("CRIT", f"Giving up resource group {ev.key}: {ev.reason}")

    def _shutdown(self, now: int, out: Outbox) -> None:
        if self.phase is Phase.SHUTTING_DOWN:
            return
        self.standby.cancel(now, out, "shutdown in progress")
        self.phase = Phase.SHUTTING_DOWN
        self.groups.drop()
        self.handoff.clear()
        self.needs_failback = False
        out.send(t="resource", rsc_hold="none", rtype="full", isstable="0", info="shutdown",
                 hbd_groups=encode_groups(self.held, self.topology), hbdver=HBD_VERSION)
        out.log("info", "Giving up all HA resources.")
        for key in reversed(self.topology.ordered(self.held)):
            self.enqueue(Op.STOP, key, Cause.SHUTDOWN, "shutdown")

    def _tick(self, now: int, out: Outbox) -> None:
        busy = self.groups.busy
        if self.retry_at is not None and now >= self.retry_at and busy is not None:
            self.retry_at = None
            out.log("info", f"Retrying failed stop operation [{busy}]")
            out.add(StopGroup(busy, "retry", Cause.RETRY))
        if self.fence_at is not None and now >= self.fence_at and not self.peer_view.alive:
            out.add(Fence(self.peer))
            self.fence_at = now + self.policy.fence_retry_ms
        self.standby.tick(now, out)

    # --- the shared tail of every step ----------------------------------------------------------

    def _settle(self, now: int, out: Outbox) -> None:
        self._pump(out)  # first the queue (stale entries drop out), so that an idle node sees what it wants
        if self.idle and not self.standby.active:
            for key in self._wanted(now):
                self.enqueue(Op.START, key, *self._why(key))
        self._pump(out)
        if self.idle:
            self.standby.after_settled(now, out)
            self._own_exchange(now, out)
            self._pump(out)
        if self.phase is Phase.SHUTTING_DOWN and self.groups.idle:
            self._finish_shutdown(out)
            return
        if self.stable and (self.held, True) != self.last_report:
            self.send_report(out)

    def _own_exchange(self, now: int, out: Outbox) -> None:
        """Hand over what this node should not keep: groups that failed to start here, and (auto_failback)
        groups the placement puts on the peer once it is back."""
        pv = self.peer_view
        if self.standby.active or not (self.stable and pv.active and pv.stable and pv.hold is not None):
            return
        if self.handoff:
            keys = frozenset(self.handoff)
            self.handoff.clear()
            self.standby.start_giving(self.topology.describe(keys, self.me), keys, now, out, request_id=None,
                                      handoff=True)
            if not self.standby.active and keys & self.held:  # not even asked (e.g. defined differently there)
                out.add(HandOffFailed(keys & self.held, "not offered"))
            return
        back = rules.to_give_back(self._facts(), self._placement) if self.needs_failback else frozenset()
        if self.needs_failback and now >= self.failback_not_before and back:
            self.needs_failback = False
            self.standby.start_giving(self.topology.describe(back, self.me), back, now, out, request_id=None,
                                      auto_failback=True)
        elif self.needs_failback and not back:
            self.needs_failback = False

    @property
    def _placement(self) -> Placement:
        assert self.placement is not None  # set in __post_init__
        return self.placement

    def _facts(self) -> rules.Facts:
        return rules.Facts(self.me, self.peer, self.topology, self.policy, self.phase, self.groups.state, self.held,
                           self.peer_view, self.start_failed, self.start_deadline,
                           self._may_take_from_dead())

    def _desired(self, peer_alive: bool) -> Mapping[str, Desired]:
        return rules.desired(self._facts(), self._placement, peer_alive)

    def _wanted(self, now: int) -> list[str]:
        return rules.wanted(self._facts(), self._placement, now)

    def _why(self, key: str) -> tuple[Cause, str]:
        return rules.why(self._facts(), key)

    def _may_take_from_dead(self) -> bool:
        return rules.may_take_from_dead(self.peer_view, self.policy)

    def _may_start(self, key: str) -> bool:
        """The safety rule (start_rules.py): checked for every start, just before it begins."""
        pv = self.peer_view
        if self.phase is not Phase.RUNNING or key in pv.disputed:
            return False
        if pv.active:
            return pv.hold is not None and key not in pv.hold
        return self._may_take_from_dead()

    def _pump(self, out: Outbox) -> None:
        self.groups.pump(out, self._may_start, self.peer)

    def _finish_shutdown(self, out: Outbox) -> None:
        self.phase = Phase.DOWN
        if self.held:
            out.log("CRIT", "Not all HA resources could be relinquished: "
                            f"{' '.join(self.topology.ordered(self.held))}; no shutdown notice sent")
        else:
            out.log("info", "All HA resources relinquished.")
            out.send(t="shutdone", st="dead", hbdver=HBD_VERSION)
        out.add(ShutdownComplete())

    def send_report(self, out: Outbox, stable: bool | None = None, rsc_hold: str | None = None, **extra: str) -> None:
        """Send a holdings report; remembering it lets `_settle` report again whenever it would differ."""
        stable = self.stable if stable is None else stable
        fields = report_fields(self.topology, self.held, self.me, t="resource", rtype="full",
                               isstable="1" if stable else "0", **extra)
        if rsc_hold is not None:
            fields["rsc_hold"] = rsc_hold
        out.send(**fields)
        self.last_report = (self.held, stable)
