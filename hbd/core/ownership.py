"""Who runs which resource group: the pure ownership core of a two-node cluster (no I/O, no clock).

Drive it with `handle(event, now_ms) -> [actions]`. It speaks Heartbeat's messages (`starting`, `resource`,
`ask_resources`, `hb_takeover`, `shutdone`) so that an hbd node and a Heartbeat 3.0 node can share a cluster.

The safety rule everything else rests on (`_may_start`): a group is started only
- when the peer is alive: after the peer's latest report says it does not hold the group; or
- when the peer is dead: after it gave its groups up (`shutdone`), or was fenced, or no fencing is configured.
Which groups a node wants follows from the situation (`_wanted`): while the peer is alive a node only ever
takes its own preferred groups that nobody holds; peer-preferred groups move only through an explicit
handover (standby exchange, shutdown notice) or the peer's death. Group operations run one at a time.
How the peer's reports are read (exact lists, Heartbeat's words and announcements) is `peer_view.py`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping, NamedTuple

from hbd.core import agreement
from hbd.core.holdings import Topology, decode_groups, encode_groups
from hbd.core.ownership_types import (
    Action, AdminReply, AdminRequest, Announce, Cause, CommUp, Event, Fence, Fenced, GroupStarted, GroupState, GroupStopped,
    Op, Outbox, PeerDied, PeerJoined, Policy, Probed, Received, ShutdownComplete, ShutdownRequested, StartGroup,
    StopFailedForGood, StopGroup, Tick,
)
from hbd.core.peer_view import PeerView
from hbd.core.standby import StandbyExchange

Phase = Literal["probing", "waiting", "running", "shutting_down", "down"]


class Queued(NamedTuple):
    """A group operation waiting its turn (they run one at a time)."""

    op: Op
    key: str
    cause: Cause
    reason: str  # for the log
HBD_VERSION = "1"


@dataclass
class Ownership:
    me: str
    peer: str
    topology: Topology
    policy: Policy = field(default_factory=Policy)

    def __post_init__(self) -> None:
        self.state: dict[str, GroupState] = {k: GroupState.STOPPED for k in self.topology.keys}
        self.phase: Phase = "probing"
        self.peer_view = PeerView()
        self.queue: list[Queued] = []
        self.busy: str | None = None
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
        self.standby = StandbyExchange(self)
        self.last_report: tuple[frozenset[str], bool] | None = None
        # Groups kept here while the peer held them too: re-announced once the peer's report shows it let go.
        self.reannounce: set[str] = set()

    # --- queries --------------------------------------------------------------------------------

    @property
    def held(self) -> frozenset[str]:
        return frozenset(k for k, s in self.state.items() if s.held)

    @property
    def _idle(self) -> bool:
        return self.phase == "running" and self.busy is None and not self.queue

    @property
    def stable(self) -> bool:
        return self.phase == "running" and self.busy is None and not self.queue and not self.standby.active

    def next_deadline(self, now: int) -> int | None:
        """When the runtime must send the next Tick (None: no timer pending); always later than `now`."""
        times = [self.retry_at, self.start_deadline, self.fence_at, self.standby.deadline]
        if self.needs_failback:
            times.append(self.failback_not_before)
        times.extend(t + self.policy.failed_retry_ms for t in self.start_failed.values())
        future = [t for t in times if t is not None and t > now]
        return min(future) if future else None

    def snapshot(self) -> dict[str, object]:
        return {
            "node": self.me, "phase": self.phase, "stable": self.stable,
            "groups": {k: self.state[k].value for k in self.topology.keys},
            "peer": {"node": self.peer, "alive": self.peer_view.alive, "stable": self.peer_view.stable,
                     "holds": sorted(self.peer_view.hold) if self.peer_view.hold is not None else None},
            "standby": self.standby.describe(),
        }

    # --- the step -------------------------------------------------------------------------------

    def handle(self, event: Event, now: int) -> list[Action]:
        out = Outbox()
        if self.phase == "down":
            return []
        handler = getattr(self, "_on_" + type(event).__name__)
        handler(event, now, out)
        self._settle(now, out)
        return out.actions

    def _on_Probed(self, ev: Probed, now: int, out: Outbox) -> None:
        for key in self.topology.ordered(ev.running | ev.partial):
            if key in ev.partial and key not in ev.running:
                self.state[key] = GroupState.PARTIAL
                out.log("WARN", f"Resource group {key} is partly running here: holding it, and starting the "
                                "rest in plan order once it may run here")
            else:
                self.state[key] = GroupState.RUNNING
                out.log("WARN", f"Resource group {key} is already running here: keeping it")
        self.phase = "waiting"

    def _on_CommUp(self, ev: CommUp, now: int, out: Outbox) -> None:
        self.phase = "running"
        if ev.peer_alive:
            self.peer_view.alive = True
            self.start_deadline = now + self.policy.rqstdelay_ms
            out.send(**self._report_fields(t="starting"))
        else:
            self._peer_gone(now, out, announced=False)

    def _on_PeerDied(self, ev: PeerDied, now: int, out: Outbox) -> None:
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

    def _on_Fenced(self, ev: Fenced, now: int, out: Outbox) -> None:
        if ev.node != self.peer or self.peer_view.alive:
            return
        if ev.ok:
            self.peer_view.fenced = True
            self.fence_at = None
            out.log("info", f"node {self.peer} now reset.")
        else:
            out.log("ERROR", f"STONITH of {self.peer} failed.  Retrying...")

    def _on_PeerJoined(self, ev: PeerJoined, now: int, out: Outbox) -> None:
        if ev.node != self.peer:
            return
        if ev.after_partition:
            out.log("CRIT", f"Cluster node {self.peer} returning after partition.")
            # Clients may have learnt the peer's MAC for our addresses while it held them too.
            self.reannounce |= {k for k, s in self.state.items() if s is GroupState.RUNNING}
        self.peer_view = PeerView(alive=True, hbd=self.peer_view.hbd)
        self.fence_at = None
        self.standby.cancel(now, out, f"{self.peer} restarted or rejoined")
        # Drop queued takeovers: their reason (the peer's death) no longer holds.
        self.queue = [q for q in self.queue if q.op is not Op.START]
        # hbd_ask: the peer may have reported before it could hear us again; ask it to report once more.
        self.send_report(out, hbd_ask="1")

    def _on_Received(self, ev: Received, now: int, out: Outbox) -> None:
        if ev.node != self.peer:
            return
        f = ev.fields
        if "hbdver" in f:
            self.peer_view.hbd = True
        if agreement.FIELD in f:
            self._compare_config(f[agreement.FIELD], out)
        t = f.get("t")
        if t == "starting":
            self._peer_starting(f, now, out)
        elif t == "resource":
            self._peer_resource(f, now, out)
        elif t == "ask_resources":
            self.standby.received(f, now, out)
        elif t == "hb_takeover":
            self.standby.takeover_requested(f.get("rsc_hold", "all"), now, out)
        elif t == "shutdone":
            self._peer_shutdone(now, out)
        elif t == "ip-request":
            out.log("WARN", f"ip-request from {self.peer} ignored: hbd runs auto_failback on or off only "
                            "(set the same auto_failback on both nodes)")

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

    def _peer_starting(self, f: Mapping[str, str], now: int, out: Outbox) -> None:
        pv = self.peer_view
        if pv.newer(f):
            pv.alive, pv.stable, pv.gave_up = True, False, False
            pv.hold = decode_groups(f.get("hbd_groups"), self.topology)
        if self.policy.auto_failback != "off" and any(self.topology.preferred(k) == self.peer for k in self.held):
            self.needs_failback = True
        self.send_report(out)

    def _peer_resource(self, f: Mapping[str, str], now: int, out: Outbox) -> None:
        pv = self.peer_view
        pv.alive = True
        if f.get("hbd_ask") == "1":
            self.send_report(out)
        if not pv.newer(f):
            return  # overtaken by a newer report that arrived first
        pv.apply_report(f, self.topology, self.peer)
        hold = pv.hold or frozenset()
        if pv.stable:
            self._forget_failures(hold)
        both = hold & self.held
        if both and self.phase == "running":
            self._resolve_double_ownership(both, out)
        for key in self.topology.ordered(self.reannounce - hold):
            self.reannounce.discard(key)
            if self.state[key] is GroupState.RUNNING:
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
        """Both nodes hold a group (after a partition, or a daemon restart that found it running):
        the node that is not the group's preferred node releases it."""
        mine = [k for k in both if self.topology.preferred(k) == self.me]
        if mine:
            out.log("ERROR", "Both machines own our resources!")
            self.reannounce.update(mine)
        theirs = [k for k in self.topology.ordered(both) if self.topology.preferred(k) != self.me]
        if theirs:
            out.log("ERROR", "Both machines own foreign resources!")
        for key in reversed(theirs):
            if self.state[key] is not GroupState.STOPPING:
                self._enqueue(Op.STOP, key, Cause.DOUBLE_OWNERSHIP, f"also held by {self.peer}, its preferred node")

    def _peer_shutdone(self, now: int, out: Outbox) -> None:
        out.log("info", f"Received shutdown notice from '{self.peer}'.")
        self.peer_view.gave_up = True
        self._peer_gone(now, out, announced=True)
        self.peer_view.alive = True  # still heard until it stops sending; it holds nothing
        self.peer_view.hold = frozenset()

    def _on_GroupStarted(self, ev: GroupStarted, now: int, out: Outbox) -> None:
        if self.busy != ev.key:
            return
        self.busy = None
        if ev.ok:
            self.state[ev.key] = GroupState.RUNNING
            self.start_failed.pop(ev.key, None)
            self.handoff.discard(ev.key)  # a retry succeeded: the group stays here (auto_failback decides)
            out.log("info", f"Resource group {ev.key} started.")
            return
        self.state[ev.key] = GroupState.STOPPED
        self.start_failed[ev.key] = now
        out.log("CRIT", f"Giving up resources due to failure of {ev.reason or ev.key}")
        self.handoff.add(ev.key)  # offered to the peer once both sides are stable

    def _on_GroupStopped(self, ev: GroupStopped, now: int, out: Outbox) -> None:
        if self.busy != ev.key:
            return
        if ev.ok:
            self.busy = None
            self.state[ev.key] = GroupState.STOPPED
            self.stop_attempts.pop(ev.key, None)
            self.reannounce.discard(ev.key)
            out.log("info", f"Resource group {ev.key} stopped.")
            return
        attempts = self.stop_attempts.get(ev.key, 0) + 1
        self.stop_attempts[ev.key] = attempts
        if attempts <= self.policy.stop_retries:
            self.retry_at = now + self.policy.stop_retry_ms
            return
        self.busy = None
        self.stop_attempts.pop(ev.key, None)
        self.state[ev.key] = GroupState.FAILED
        out.log("CRIT", f"Resource STOP failure for group {ev.key}: it may still be running here; "
                        f"holding it so that {self.peer} never starts it")
        out.add(StopFailedForGood(ev.key))

    def _on_AdminRequest(self, ev: AdminRequest, now: int, out: Outbox) -> None:
        if self.phase != "running":
            out.add(AdminReply(ev.request_id, False, f"not ready: {self.phase}"))
            return
        if ev.kind == "standby":
            self.standby.start_giving(ev.which, None, now, out, ev.request_id)
        else:
            self.standby.request_takeover(ev.which, now, out, ev.request_id)

    def _on_ShutdownRequested(self, ev: ShutdownRequested, now: int, out: Outbox) -> None:
        if self.phase == "shutting_down":
            return
        self.standby.cancel(now, out, "shutdown in progress")
        self.phase = "shutting_down"
        self.queue = []
        self.handoff.clear()
        self.needs_failback = False
        out.send(t="resource", rsc_hold="none", rtype="full", isstable="0", info="shutdown",
                 hbd_groups=encode_groups(self.held, self.topology), hbdver=HBD_VERSION)
        out.log("info", "Giving up all HA resources.")
        for key in reversed(self.topology.ordered(self.held)):
            self._enqueue(Op.STOP, key, Cause.SHUTDOWN, "shutdown")

    def _on_Tick(self, ev: Tick, now: int, out: Outbox) -> None:
        if self.retry_at is not None and now >= self.retry_at and self.busy is not None:
            self.retry_at = None
            out.log("info", f"Retrying failed stop operation [{self.busy}]")
            out.add(StopGroup(self.busy, "retry", Cause.RETRY))
        if self.fence_at is not None and now >= self.fence_at and not self.peer_view.alive:
            out.add(Fence(self.peer))
            self.fence_at = now + self.policy.fence_retry_ms
        self.standby.tick(now, out)

    # --- the shared tail of every step ----------------------------------------------------------

    def _settle(self, now: int, out: Outbox) -> None:
        self._pump(out)  # first the queue (stale entries drop out), so that an idle node sees what it wants
        if self._idle and not self.standby.active:
            for key in self._wanted(now):
                self._enqueue(Op.START, key, *self._why(key))
        self._pump(out)
        if self._idle:
            self.standby.after_settled(now, out)
            self._pump(out)
        if self.phase == "shutting_down" and self.busy is None and not self.queue:
            self._finish_shutdown(out)
            return
        if self.phase == "running" and self.stable:
            report = (self.held, True)
            if report != self.last_report:
                self.send_report(out)

    def _wanted(self, now: int) -> list[str]:
        """Groups this node should start now, by the situation alone (a partly running group: the rest)."""
        pv = self.peer_view
        retry = self.policy.failed_retry_ms
        keys = [k for k in self.topology.keys if k not in pv.disputed]
        partial = [k for k in keys if self.state[k] is GroupState.PARTIAL]
        free = [k for k in keys if self.state[k] is GroupState.STOPPED
                and now - self.start_failed.get(k, now - retry) >= retry]
        if not pv.alive or pv.gave_up:
            return partial + free if self._may_take_from_dead() else []
        if pv.hold is None:
            return []
        partial = [k for k in partial if k not in pv.hold]  # held by both: double ownership decides first
        if not pv.stable and not pv.hbd and self.start_deadline is not None and now < self.start_deadline:
            return []  # both starting with a Heartbeat peer: wait RQSTDELAY as Heartbeat does
        wanted = [k for k in free if self.topology.preferred(k) == self.me and k not in pv.hold]
        if not pv.hbd and pv.stable:
            # A Heartbeat peer reads our holdings as a word ("all", "foreign"), so it will not start a group
            # that word names: holding part of a word-set, we take the rest rather than leave it unheld.
            claimed = self.topology.resolve(self.topology.describe(self.held, self.me), self.me)
            wanted += [k for k in free if k in claimed and k not in pv.hold and k not in wanted]
        return partial + wanted

    def _why(self, key: str) -> tuple[Cause, str]:
        pv = self.peer_view
        if self.state[key] is GroupState.PARTIAL:
            return Cause.COMPLETION, "found partly running here: starting the rest"
        if pv.gave_up:
            return Cause.PEER_GAVE_UP, f"{self.peer} gave up its resources"
        if not pv.alive:
            return Cause.PEER_DEAD, f"{self.peer} is dead"
        if self.topology.preferred(key) != self.me:
            return Cause.CLAIMED, f"held by nobody, and {self.peer} counts it as ours"
        return Cause.PREFERRED, "preferred node, held by nobody"

    def _may_take_from_dead(self) -> bool:
        pv = self.peer_view
        return pv.gave_up or pv.fenced or not self.policy.fencing

    def _may_start(self, key: str) -> bool:
        pv = self.peer_view
        if self.phase != "running" or key in pv.disputed:
            return False
        if pv.alive and not pv.gave_up:
            return pv.hold is not None and key not in pv.hold
        return self._may_take_from_dead()

    def _enqueue(self, op: Op, key: str, cause: Cause, reason: str) -> None:
        if (op, key) not in [(q.op, q.key) for q in self.queue]:
            self.queue.append(Queued(op, key, cause, reason))

    def _pump(self, out: Outbox) -> None:
        while self.busy is None and self.queue:
            op, key, cause, reason = self.queue.pop(0)
            if op is Op.START:
                if self.state[key] not in (GroupState.STOPPED, GroupState.PARTIAL):
                    continue
                if not self._may_start(key):
                    out.log("info", f"Not starting resource group {key}: {self.peer} may hold it")
                    continue
                self.state[key] = GroupState.STARTING
                self.busy = key
                out.log("info", f"Acquiring resource group: {key} ({reason})")
                out.add(StartGroup(key, reason, cause))
            else:
                if self.state[key] not in (GroupState.RUNNING, GroupState.FAILED, GroupState.PARTIAL):
                    continue
                self.state[key] = GroupState.STOPPING
                self.busy = key
                out.log("info", f"Releasing resource group: {key} ({reason})")
                out.add(StopGroup(key, reason, cause))

    def _finish_shutdown(self, out: Outbox) -> None:
        self.phase = "down"
        if self.held:
            out.log("CRIT", "Not all HA resources could be relinquished: "
                            f"{' '.join(self.topology.ordered(self.held))}; no shutdown notice sent")
        else:
            out.log("info", "All HA resources relinquished.")
            out.send(t="shutdone", st="dead", hbdver=HBD_VERSION)
        out.add(ShutdownComplete())

    def _report_fields(self, **extra: str) -> dict[str, str]:
        fields = dict(extra)
        if fields.get("t") == "resource":
            fields["rsc_hold"] = self.topology.describe(self.held, self.me)
        fields["hbd_groups"] = encode_groups(self.held, self.topology)
        fields["hbdver"] = HBD_VERSION
        digests = agreement.encode(self.topology)
        if digests is not None:
            fields[agreement.FIELD] = digests
        return fields

    def send_report(self, out: Outbox, stable: bool | None = None, rsc_hold: str | None = None, **extra: str) -> None:
        """Send a holdings report; remembering it lets `_settle` report again whenever it would differ."""
        stable = self.stable if stable is None else stable
        fields = self._report_fields(t="resource", rtype="full", isstable="1" if stable else "0", **extra)
        if rsc_hold is not None:
            fields["rsc_hold"] = rsc_hold
        out.send(**fields)
        self.last_report = (self.held, stable)

