"""One node's decisions in one pure object: membership, ownership and the rules between them.

`handle(event, now_ms) -> [actions]` and `next_deadline()`, integer milliseconds of the monotonic clock at
this interface (membership keeps float seconds inside). The runtime feeds it every input (messages heard,
timers, probe and agent results, admin requests) and carries out what comes out; it decides nothing.
Composed here, and simulated with real wire messages in tests/sim/test_node_sim.py:

- membership -> ownership: CommUp says whether the peer is alive; the peer declared dead -> PeerDied, once;
  heard again after that, or restarted (a higher generation) -> PeerJoined; the same generation back after
  a death (a healed partition) -> PeerJoined(after_partition). Messages of the peer go to ownership, except
  the types of other services (`service_types`), which come out as `Delivered`. Until the start-up probe
  (`Probed`) every ownership input waits, so ownership's first event is always Probed; heartbeats run at once.
- ownership -> membership: its messages are sequenced and sent by membership (retransmission included).
- own heartbeat lost (heartbeat.md §7.8): give every group up (a shutdown), then restart after
  deadtime + 1 s (`Restart`).
- isolation (EDB Failover Manager's isolated-master rule; doc/daemon.md): with ping nodes configured, a node
  that holds groups while no ping node answers (`PingReachability` empty) and the peer has been silent past
  warntime (or is dead) gives every group up and restarts (`Restart(isolated=True)`), as after own-heartbeat
  loss; while no ping node answers (or none has been judged yet), a takeover from a dead peer (CommUp with
  the peer dead, PeerDied) is held back, and goes to ownership once a ping node answers.
- monitoring (hbd/core/recovery.py): a failed status check of a group running here (and idle) goes to the
  recovery policy; a restart in place comes out as `RestartGroup`, and its outcome comes back as
  `RecoveryDone`; beyond the restarts the group is handed to the active peer (`o.HandOff`: the standby
  exchange, as after a failed start), or restarted in place when no peer can take it.
- the pre-probe is a deadline: when the live peer holding groups with addresses (`probe_groups`) has been
  silent for its deadtime - window - lead, `ProbeNow` once for that silence (window and lead scaled to the
  peer's deadtime: hbd/core/pre_probe.py). What the round heard comes back (`PreProbeVerdict`); a takeover
  from the dead peer of a group whose addresses all stayed silent in a whole, fresh window starts with the
  start option `peer_released` (`StartGroup.pre_probe_silent`): IPaddr2 does not probe again.
"""
from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import assert_never

from hbd.core import membership_events as m
from hbd.core import node_events as n
from hbd.core import ownership_types as o
from hbd.core import recovery as r
from hbd.core.holdings import Topology
from hbd.core.membership import Membership, MembershipConfig
from hbd.core.messages import Message
from hbd.core.ownership import Ownership
from hbd.core import ipfail
from hbd.core import link_rule
from hbd.core.placement import PreferredNode
from hbd.core.resource_messages import PING_FIELD, ping_count
from hbd.core.ownership_view import OwnershipView
from hbd.core.node_isolation import RESTART_EXTRA_MS, IsolationRules
from hbd.core.pre_probe import PreProbeClock, ProbeTarget



@dataclass(frozen=True)
class NodeConfig:
    membership: MembershipConfig
    peer: str
    topology: Topology
    policy: o.Policy = o.Policy()
    probe_groups: frozenset[str] = frozenset()  # groups with addresses the pre-probe can ask about
    service_types: frozenset[str] = frozenset()  # message types of other services: `Delivered`
    window_ms: int | None = None  # fixed pre-probe timing (tests); None: scaled to the peer's deadtime
    lead_ms: int | None = None
    ping_nodes: int = 0  # how many ping nodes (addresses and groups) the ping monitor watches
    recovery: r.GroupRecovery = r.GroupRecovery()  # what a failed status check does (ha.cf `monitor`)


def _ms_after(seconds: float) -> int:
    """The first whole millisecond strictly after `seconds` (so that membership finds its deadline due)."""
    return int(seconds * 1000) + 1


class NodeCore(IsolationRules):
    """One node's decisions (the module's docstring); the isolation rule lives in node_isolation.py."""

    def __init__(self, config: NodeConfig, now_ms: int, *, generation: int, rng: random.Random | None = None):
        self.config = config
        self.me = config.membership.local
        self.peer = config.peer
        self.membership = Membership(config.membership, now_ms / 1000, generation=generation, rng=rng)
        # ipfail (ipfail.py): the better-connected node holds the groups; counts after hysteresis.
        self.connected = ipfail.BetterConnected(PreferredNode(auto_failback=config.policy.auto_failback != "off"))
        # VIP carrier (link_rule.py) outweighs it: no address answers on a node without carrier, whatever it pings
        self.links = link_rule.LinkState(link_rule.LINK_UP_ROUNDS * config.membership.timing.keepalive_ms)
        self.placement = link_rule.AvoidDeadLinks(self.connected, lambda: self.links.down_by_node(self.me, self.peer))
        self.connectivity = ipfail.Connectivity(ipfail.IPFAIL_ROUNDS * config.membership.timing.keepalive_ms)
        self.ownership = Ownership(self.me, self.peer, config.topology, config.policy, placement=self.placement)
        self.now_ms = now_ms
        self.probed = False
        self.pending: list[o.Event] = []  # ownership inputs before Probed
        self.comm_up = False
        self.peer_dead = False
        self.restarting = False
        self.pre_probe = PreProbeClock(config.probe_groups, config.window_ms, config.lead_ms)
        self._probe_kept: tuple[tuple[object, ...], ProbeTarget | None] | None = None  # (what it read, target)
        self._own_due: int | None = None  # ownership's next timer (ms), None: none
        self.ping_reachable: frozenset[str] | None = None  # None: the ping monitor has not judged yet
        self.isolated = False
        self.held_back: list[o.Event] = []  # a takeover from a dead peer, while no ping node answers
        self.ownership_steps = 0  # how many events ownership has handled (the runtime refreshes its view)
        self._view: tuple[int, OwnershipView] | None = None  # (ownership_steps, its view)
        self.recovery = r.RecoveryCore({}, config.recovery)

    # --- entry points ----------------------------------------------------------------------------

    def start(self, now_ms: int) -> list[n.Action]:
        self.now_ms = now_ms
        out: list[n.Action] = []
        self._membership_out(self.membership.start(now_ms / 1000), out)
        return out

    def handle(self, event: n.Event, now_ms: int) -> list[n.Action]:
        self.now_ms = max(self.now_ms, now_ms)
        now = self.now_ms
        out: list[n.Action] = []
        match event:
            case n.Heard(message, link):
                self._membership_out(self.membership.handle(m.Received(message, link), now / 1000), out)
            case n.Tick():
                self._membership_out(self.membership.handle(m.Tick(), now / 1000), out)
                if self._own_due is not None and now >= self._own_due:
                    self._feed(o.Tick(), out)
            case n.Broadcast(body):
                self._membership_out([self.membership.send(body)], out)
            case n.PreProbeVerdict():
                self.pre_probe.heard(event)
            case n.PingReachability(reachable):
                self.ping_reachable = reachable
                self._ping_count(len(reachable), out)
                if not self._cut_off() and self.held_back:
                    held, self.held_back = self.held_back, []
                    out.append(m.Log("info", f"ping nodes reachable ({', '.join(sorted(reachable))}): "
                                             "taking over from the dead peer"))
                    for queued in held:
                        self._feed(queued, out)
            case link_rule.VipCarrier():
                first = not self.links.known  # the peer learns that this node reports, even with all up
                self._links_changed(out, mine=self.links.observe(now, event) or first)
            case o.Probed() | o.GroupStarted() | o.GroupStopped() | o.Fenced() | o.AdminRequest() \
                    | o.ShutdownRequested():
                self._feed(event, out)
            case r.CheckFailed() | r.CheckOk() | r.RecoveryDone() | r.Cleared():
                self._monitored(event, out)
            case _:
                assert_never(event)
        self._maybe_probe(now, out)
        self._check_isolation(now, out)
        self._check_ipfail(now, out)
        if self.links.settle(now):
            self._links_changed(out, mine=True)
        return out

    def next_deadline(self) -> int:
        """When the runtime must send the next Tick at the latest (always after the last step's time)."""
        best = _ms_after(self.membership.wakeup_at())
        if self._own_due is not None and self._own_due < best:
            best = self._own_due
        for due in (self._probe_due(), self._isolation_due(), self.connectivity.due(), self.links.due()):
            if due is not None and due < best:
                best = due
        return max(best, self.now_ms + 1)

    def view(self, now_ms: int) -> m.MembershipView:
        return self.membership.view(now_ms / 1000)

    def ownership_view(self) -> OwnershipView:
        """The ownership core as of its last step, frozen: what the runtime and the pre-probe read (built
        once per ownership step, since the pre-probe asks on every heartbeat)."""
        if self._view is None or self._view[0] != self.ownership_steps:
            self._view = (self.ownership_steps, self.ownership.view())
        return self._view[1]

    # --- membership -> ownership -----------------------------------------------------------------

    def _membership_out(self, actions: list[m.Action], out: list[n.Action]) -> None:
        for action in actions:
            match action:
                case m.Deliver(message):
                    self._deliver(message, out)
                case m.CommUp():
                    out.append(action)
                    self.comm_up = True
                    status = self.membership.nodes[self.peer].status if self.peer in self.membership.nodes else None
                    self.peer_dead = status in (None, "dead")
                    self._takeover(o.CommUp(peer_alive=not self.peer_dead), out)
                case m.NodeChanged(node, status):
                    out.append(action)
                    if node == self.peer:
                        self._peer_status(status == "dead", out)
                case m.PeerRestarted(node):
                    out.append(action)
                    if node == self.peer and self.comm_up:
                        self.peer_dead = False
                        self._joined(o.PeerJoined(self.peer), out)
                case m.PeerReturned(node):
                    out.append(action)
                    if node == self.peer and self.comm_up:
                        self.peer_dead = False
                        self._joined(o.PeerJoined(self.peer, after_partition=True), out)
                case m.LocalHeartbeatLost():
                    out.append(action)
                    self._own_heartbeat_lost(out)
                case m.Send() | m.Log() | m.Dropped() | m.LinkChanged():
                    out.append(action)
                case _:
                    assert_never(action)

    def _peer_status(self, dead: bool, out: list[n.Action]) -> None:
        if not self.comm_up:
            self.peer_dead = dead
        elif dead and not self.peer_dead:
            self.peer_dead = True
            self.connectivity.forget_peer(self.now_ms)
            self.links.forget_peer()
            self._takeover(o.PeerDied(self.peer), out)
        elif not dead and self.peer_dead:
            self.peer_dead = False
            self._joined(o.PeerJoined(self.peer), out)

    def _deliver(self, message: Message, out: list[n.Action]) -> None:
        if message.src != self.peer:
            return
        fields: dict[str, str] = {}
        for key, value in message.fields:
            if isinstance(value, str) and key not in fields:
                fields[key] = value  # the first occurrence wins, as in Heartbeat's lookup
        if fields.get("t") in self.config.service_types:
            out.append(n.Delivered(self.peer, fields))
        else:
            count = ping_count(fields)
            if count is not None:
                self.connectivity.observe(self.now_ms, peer=count)
            down = link_rule.decode(fields, self.config.topology)
            if down is not None and self.links.observe_peer(down):
                self._links_changed(out, mine=False)
            self._feed(o.Received(self.peer, fields), out)

    def _own_heartbeat_lost(self, out: list[n.Action]) -> None:
        if self.restarting:
            return
        self.restarting = True
        out.append(n.Restart(self.config.membership.timing.deadtime_ms + RESTART_EXTRA_MS))
        self._feed(o.ShutdownRequested(), out)

    # --- ipfail: the better-connected node holds the groups ---------------------------------------------

    def _ping_count(self, count: int, out: list[n.Action]) -> None:
        before = self.connectivity.mine
        self.connectivity.observe(self.now_ms, mine=count)
        if before != count and self.probed:
            self.ownership.report_soon()  # the peer learns the new count from the next report
            self._feed(o.Tick(), out)

    def _check_ipfail(self, now: int, out: list[n.Action]) -> None:
        if not self.connectivity.settle(now):
            return
        c = self.connectivity
        self.connected.ping = c.counts(self.me, self.peer)
        if c.effective < 0:
            out.append(m.Log("WARN", f"ipfail: {self.peer} reaches more ping nodes ({c.peer}) than this node "
                                     f"({c.mine}) for {c.hold_ms} ms: handing the groups over"))
        elif c.effective > 0:
            out.append(m.Log("info", f"ipfail: this node reaches more ping nodes ({c.mine}) than {self.peer} "
                                     f"({c.peer})"))
        else:
            out.append(m.Log("info", "ipfail: both nodes reach as many ping nodes: the usual placement"))
        if self.probed and self.ownership.held:
            # the auto_failback path hands over what the placement now puts on the peer (standby exchange)
            self.ownership.needs_failback, self.ownership.failback_not_before = True, now
            self._feed(o.Tick(), out)

    # --- VIP carrier: a group belongs where its addresses' interfaces have carrier (link_rule.py) ------

    def _links_changed(self, out: list[n.Action], mine: bool) -> None:
        """This node's or the peer's VIP carrier changed (the placement reads it): the peer learns ours from
        the next report, and a holder hands over what the placement now puts on the peer (the auto_failback
        path, as ipfail): stop here, then start there. Restarting in place cannot help a dead link."""
        if not self.probed:
            return
        if mine:
            self.ownership.report_soon()
        held = self.ownership.held
        for text in self.links.news(held, self.peer, self.ownership_view().peer.active):
            out.append(m.Log("WARN", text))
        if held:
            self.ownership.needs_failback, self.ownership.failback_not_before = True, self.now_ms
        self._feed(o.Tick(), out)

    # --- ownership -------------------------------------------------------------------------------

    def _feed(self, event: o.Event, out: list[n.Action]) -> None:
        if not self.probed and not isinstance(event, o.Probed):
            self.pending.append(event)
            return
        self._step(event, out)
        if isinstance(event, o.Probed):
            self.probed = True
            pending, self.pending = self.pending, []
            for queued in pending:
                self._step(queued, out)

    def _step(self, event: o.Event, out: list[n.Action]) -> None:
        if isinstance(event, o.ShutdownRequested) and self.ownership_view().phase in (o.Phase.SHUTTING_DOWN,
                                                                                      o.Phase.DOWN):
            return  # asked twice (a signal, then `hbd stop`, or own-heartbeat loss)
        self.ownership_steps += 1
        for action in self.ownership.handle(event, self.now_ms):
            match action:
                case o.Send(fields):
                    if self.connectivity.mine is not None and fields.get("t") in ("starting", "resource"):
                        fields = {**fields, PING_FIELD: str(self.connectivity.mine)}
                    fields = link_rule.with_field(fields, self.links, self.config.topology)
                    self._membership_out([self.membership.send(tuple(fields.items()))], out)
                case o.HandOffFailed(keys, why):
                    self._not_handed_off(keys, why, out)
                case o.StartGroup(key, _, o.Cause.PEER_DEAD) if self.pre_probe.silent(key, self.now_ms):
                    out.append(o.Log("info", f"The addresses of {key} were silent before the verdict: starting "
                                             "without probing again"))
                    out.append(dataclasses.replace(action, pre_probe_silent=True))
                case _:
                    out.append(action)  # every other ownership action is the runtime's to carry out
        deadline = self.ownership.next_deadline(self.now_ms)
        self._own_due = None if deadline is None else deadline + 1

    # --- monitoring: recovery of a failed resource ----------------------------------------------------

    def _monitored(self, event: r.Event, out: list[n.Action]) -> None:
        view = self.ownership.view()
        if isinstance(event, r.CheckFailed) and (
                view.phase is not o.Phase.RUNNING or view.groups.get(event.group) is not o.GroupState.RUNNING
                or view.busy == event.group or any(q.key == event.group for q in view.queued)):
            return  # a stale result: the group is no longer running here, or is being started or stopped
        for action in self.recovery.handle(event, self.now_ms):
            match action:
                case r.RestartGroup() | r.RestartResource() | o.Log():
                    out.append(action)
                case r.Relocate(group) | r.Disable(group):
                    # haresources has no disabled state: a group beyond its restarts goes to the peer, if it
                    # can take it now; else the dead group is restarted here (never left as it is)
                    if not view.peer.active or group in (self.links.peer or frozenset()):  # link_rule.py
                        self._restart_instead(group, "no active peer can take it", out)
                    elif not (view.stable and view.peer.stable) or view.standby is not None:
                        self._restart_instead(group, f"{self.peer} cannot take it now (resources in flux)", out)
                    else:
                        self._feed(o.HandOff(group, f"{action.failures} failed checks"), out)
                        self.recovery.handle(r.GroupLeft(group), self.now_ms)
                case _:
                    assert_never(action)

    def _restart_instead(self, group: str, why: str, out: list[n.Action]) -> None:
        out.append(o.Log("ERROR", f"{group}: {why}: restarting it in place again"))
        self.recovery.handle(r.RestartingInstead(group), self.now_ms)
        out.append(r.RestartGroup(group, 0))

    def _not_handed_off(self, keys: frozenset[str], why: str, out: list[n.Action]) -> None:
        """Groups given up by monitoring that the peer did not take (HandOffFailed): those still running
        here are restarted in place; a group that failed to start here is not running, and stays as it is."""
        view = self.ownership.view()
        if view.phase is not o.Phase.RUNNING:
            return  # shutting down: every group is being stopped
        for key in self.config.topology.ordered(keys):
            if view.groups.get(key) is o.GroupState.RUNNING and view.busy != key:
                self._restart_instead(key, f"{self.peer} did not take it ({why})", out)

    # --- the pre-probe deadline (pre_probe.py) -----------------------------------------------------

    def _probe_target(self) -> ProbeTarget | None:
        if not self.config.probe_groups or not self.comm_up or self.peer_dead or not self.probed:
            return None
        node = self.membership.nodes.get(self.peer)
        # asked twice per step (the round, the next deadline) and mostly unchanged: kept by what it reads
        key = None if node is None else (self.ownership_steps, node.last, node.status, node.dt_s,
                                         self.pre_probe.probed_silence)
        if key is not None and self._probe_kept is not None and self._probe_kept[0] == key:
            return self._probe_kept[1]
        target = self.pre_probe.target(node, self.ownership_view(), self.membership.deadtime_s)
        if key is not None:
            self._probe_kept = (key, target)
        return target

    def _probe_due(self) -> int | None:
        target = self._probe_target()
        return None if target is None else self.pre_probe.due(target)

    def _maybe_probe(self, now: int, out: list[n.Action]) -> None:
        target = self._probe_target()
        if target is not None and (round_ := self.pre_probe.fire(target, now)) is not None:
            out.append(round_)
