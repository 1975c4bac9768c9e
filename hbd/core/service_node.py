"""One node's service core: follows the coordinator's announcements, runs its own copies, recovers (pure).

`ServiceNode.handle(event, now_ms) -> actions`. The rules that keep a service on one node at a time:
- start a service only while quorate, when the newest announcement of this membership's coordinator
  places it here with `go` (service_coordinator.py sets `go` only once its previous owner's stop is
  confirmed or that owner is fenced or past its grace);
- stop it when an announcement places it elsewhere or nowhere, and stop everything on losing quorum
  (within `grace_ms`, the bound the quorate side waits before it starts a departed node's services);
- a stop that fails without quorum asks for a reboot (SelfFence): the quorate side will start the
  service elsewhere after the grace, so this node must not keep it.
When this node is its membership's coordinator, it also runs the Coordinator and delivers its own
announcements to itself like any other member.
"""
from __future__ import annotations

from hbd.core.service_coordinator import Coordinator
from hbd.core.service_events import (
    Action, AdminReply, AdminRequested, DoubleOwnership, Event, FenceCause, MembersChanged, MessageReceived,
    NodeFenced, Op, OperationDone, QuorumChanged, Reannounce, RestartSubtree, SelfFence, Send, ServiceTransition,
    StartService, StartupStopFailed, StatusFailed, Step, StopService, Tick,
)
from hbd.core.service_model import Catalog
from hbd.core.service_recovery import Decision, ServiceRecovery
from hbd.core.service_states import ServiceState, check
from hbd.core.service_table import (
    Announce, Entry, Forward, RecoveryOp, RecoveryRequest, Refusal, Reply, Report, ServiceMessage,
)

S = ServiceState


UNTIL_FENCED_MS = 10 ** 14  # a suspect's grace that no time ends (within the wire's 15-digit milliseconds)


class ServiceNode:
    def __init__(self, me: str, catalog: Catalog, grace_ms: int, recovery: ServiceRecovery | None = None,
                 until_fenced: frozenset[str] = frozenset()):
        self.me, self.catalog, self.grace_ms = me, catalog, grace_ms
        # departed nodes whose grace ends only when they are fenced (NodeFenced: the fence succeeded, or an
        # admin's fence-ack): with two_node both halves of a split keep quorum, so no wait proves the other
        # stopped; rgmanager recovers only after fenced reports success
        self.until_fenced = until_fenced
        self.recovery = recovery if recovery is not None else ServiceRecovery(catalog)
        self.members: frozenset[str] = frozenset({me})
        self.quorate = False
        self.local: dict[str, ServiceState] = {s.name: S.STOPPED for s in catalog.services}
        self.current: Announce | None = None  # the announcement in force for this membership
        self.last: Announce | None = None  # the newest one followed, kept across memberships
        self.seen_seq = 0
        self.generation: dict[str, int] = {}  # the table generation of each copy started here
        self.next_step: dict[str, Step] = {}  # what follows a recovery stop
        self.failed_at: dict[str, int] = {}  # service -> the table's generation when its stop failed here
        self.failed_at_start: set[str] = set()  # failed at the start-up stop: failed_at is the first table's
        self.hold: dict[str, RecoveryOp] = {}  # a recovery request is out: no start here until it shows
        self.suspects: dict[str, int] = {}  # departed node -> ms when it can no longer run anything
        self.coordinator = Coordinator(me, catalog)
        self.double: set[str] = set()  # services found running here and elsewhere after a partition
        self._request_ids = 0
        self.now = 0

    # --- the outside view ------------------------------------------------------------------------

    @property
    def leader(self) -> str | None:
        return self.catalog.coordinator(self.members) if self.quorate else None

    @property
    def coordinating(self) -> bool:
        return self.leader == self.me

    def table(self) -> dict[str, Entry] | None:
        return dict(self.current.table) if self.current is not None else None

    def shown_table(self) -> tuple[dict[str, Entry] | None, bool]:
        """What status shows, and whether it is pending: the table in force, else (after a membership change,
        until the coordinator announces one) the last one followed, as clustat keeps showing the last known
        state. Decisions never read it: they wait for a table of the current membership."""
        if self.current is not None:
            return dict(self.current.table), False
        return (dict(self.last.table) if self.last is not None else None), True

    def next_deadline(self, now: int) -> int | None:
        return min(self.suspects.values(), default=None)

    # --- events ----------------------------------------------------------------------------------

    def handle(self, event: Event, now: int) -> list[Action]:
        out: list[Action] = []
        self.now = now
        expired = self._expire(now)
        if isinstance(event, MembersChanged):
            self._members(event.members)
        elif isinstance(event, QuorumChanged):
            self.quorate = event.quorate
            self._new_view()
            if not self.quorate:  # a copy whose stop failed may still run: the quorate side will start it
                out += [SelfFence(n, FenceCause.STOP_FAILED_WITHOUT_QUORUM) for n, st in self.local.items()
                        if st is S.FAILED]
        elif isinstance(event, NodeFenced):
            self.suspects.pop(event.node, None)
            self._recheck(out)
        elif isinstance(event, MessageReceived):
            self._message(event.message, out)
        elif isinstance(event, OperationDone):
            self._done(event, out)
        elif isinstance(event, StatusFailed):
            self._status_failed(event, out)
        elif isinstance(event, AdminRequested):
            self._admin(event, out)
        elif isinstance(event, Tick):
            pass
        elif isinstance(event, StartupStopFailed):
            for name in sorted(event.services & set(self.local)):
                if self.local[name] is S.STOPPED:
                    self._change(name, S.FAILED, out)
                    self.failed_at_start.add(name)
        if expired:
            self._recheck(out)
        if isinstance(event, (MembersChanged, QuorumChanged)):
            self._follow(out)
            self._report(out)
        return out

    def _expire(self, now: int) -> bool:
        gone = [n for n, until in self.suspects.items() if until <= now]
        for node in gone:
            del self.suspects[node]
        return bool(gone)

    def _members(self, members: frozenset[str]) -> None:
        for node in self.members - members:
            grace = UNTIL_FENCED_MS if node in self.until_fenced else self.grace_ms
            self.suspects[node] = max(self.suspects.get(node, 0), self.now + grace)
        for node in members:
            self.suspects.pop(node, None)  # a member reports what it runs
        self.members = members | {self.me}
        self._new_view()

    def _new_view(self) -> None:
        self.current = None
        self.hold.clear()
        self.coordinator.reset(self.members)

    def _message(self, message: ServiceMessage, out: list[Action]) -> None:
        if isinstance(message, Announce):
            self._announced(message, out)
        elif isinstance(message, Report):
            if self.coordinating:
                for node, left in message.suspects.items():
                    if node not in self.members:
                        self.suspects[node] = max(self.suspects.get(node, 0), self.now + left)
                self._publish(self.coordinator.report(message, bool(self.suspects)), out)
        elif isinstance(message, Forward):
            if self.coordinating:
                announces, reply = self.coordinator.forward(message, bool(self.suspects))
                if reply is not None:
                    self._reply(message.sender, reply, out)
                self._publish(announces, out)
            elif not isinstance(message.request, RecoveryRequest):
                self._reply(message.sender, Reply(message.request_id, Refusal.NO_COORDINATOR), out)
        elif isinstance(message, Reply):
            out.append(AdminReply(message.request_id, message.refusal))

    def _reply(self, to: str, reply: Reply, out: list[Action]) -> None:
        out.append(AdminReply(reply.request_id, reply.refusal) if to == self.me else Send(to, reply))

    def _publish(self, announces: list[Announce], out: list[Action]) -> None:
        for ann in announces:
            for member in sorted(self.members - {self.me}):
                out.append(Send(member, ann))
            self._announced(ann, out)

    def _recheck(self, out: list[Action]) -> None:
        if self.coordinating:
            self._publish(self.coordinator.recheck(bool(self.suspects)), out)

    def _announced(self, ann: Announce, out: list[Action]) -> None:
        if not self.quorate or ann.sender != self.leader or ann.members != self.members or ann.seq <= self.seen_seq:
            return
        self.current = self.last = ann
        self.seen_seq = ann.seq
        self.hold = {k: op for k, op in self.hold.items() if not self._shows(ann.table[k], op)}
        self._double_ownership(ann, out)  # before _follow: a loser's copy is still started here
        self._follow(out)
        self._report(out)

    def _others_holding(self, name: str, entry: Entry) -> frozenset[str]:
        """Other members that hold `name`: the coordinator knows from every report; another member from the
        table's owner, the lowest-nodeid holder (enough with two nodes, the only case where both sides of a
        partition are quorate: two_node)."""
        if self.coordinating:
            return self.coordinator.holders(name) - {self.me}
        return frozenset({entry.owner} - {self.me}) if entry.owner is not None else frozenset()

    def _double_ownership(self, ann: Announce, out: list[Action]) -> None:
        """A healed partition where both sides ran a service: say so once; the keeper announces its addresses
        again once the others no longer hold it (the placement itself is the coordinator's, as always)."""
        for name, state in self.local.items():
            entry = ann.table[name]
            others = self._others_holding(name, entry)
            running = state in (S.STARTED, S.FROZEN)
            if running and others and name not in self.double:
                self.double.add(name)
                out.append(DoubleOwnership(name, entry.placement, others | {self.me}))
            elif name in self.double and (not others or not state.held):
                self.double.discard(name)  # over: the others stopped it, or this node did
                if running and not others and entry.placement == self.me:
                    out.append(Reannounce(name))

    def _shows(self, entry: Entry, op: RecoveryOp) -> bool:
        """The coordinator has applied this node's recovery request to the service."""
        if op is RecoveryOp.DISABLE:
            return not entry.enabled
        return self.me in entry.avoid or entry.placement != self.me

    def _report(self, out: list[Action]) -> None:
        report = Report(self.me, self.members, self.seen_seq, self.last, dict(self.local),
                        {n: until - self.now for n, until in self.suspects.items()})
        leader = self.leader
        if leader == self.me:
            self._publish(self.coordinator.report(report, bool(self.suspects)), out)
        elif leader is not None:
            out.append(Send(leader, report))

    # --- local copies ----------------------------------------------------------------------------

    def _change(self, name: str, new: ServiceState, out: list[Action]) -> None:
        old = self.local[name]
        check(name, old, new)
        self.local[name] = new
        out.append(ServiceTransition(name, old, new))

    def _stop(self, name: str, new: ServiceState, out: list[Action]) -> None:
        self._change(name, new, out)
        out.append(StopService(name))

    def _start(self, name: str, entry: Entry, out: list[Action]) -> None:
        self._change(name, S.STARTING, out)
        self.generation[name] = entry.generation
        out.append(StartService(name))

    def _follow(self, out: list[Action]) -> bool:
        """Bring every local copy in line with quorum and the announcement in force; True if any changed."""
        before = len(out)
        for name, state in list(self.local.items()):
            if not self.quorate:
                if state in (S.STARTED, S.FROZEN):
                    self._stop(name, S.STOPPING, out)
                continue
            if self.current is None:
                continue  # a new membership: keep what runs, start nothing, until the coordinator speaks
            entry = self.current.table[name]
            mine = entry.placement == self.me
            if state is S.STARTED and entry.frozen:
                self._change(name, S.FROZEN, out)
            elif state is S.FROZEN and not entry.frozen:
                self._change(name, S.STARTED, out)
            state = self.local[name]
            if name in self.failed_at_start:  # only a disable after the first table tries the stop again
                self.failed_at_start.discard(name)
                self.failed_at[name] = entry.generation
            if state is S.STARTED and (not mine or self.generation.get(name, 0) < entry.generation):
                self._stop(name, S.STOPPING, out)
            elif state is S.FAILED and not entry.enabled and entry.generation > self.failed_at.get(name, -1):
                self._stop(name, S.STOPPING, out)
            elif state is S.STOPPED and mine and entry.go and entry.enabled \
                    and not entry.frozen and name not in self.hold:
                self._start(name, entry, out)
            elif state is S.STOPPED and not entry.enabled:
                self._change(name, S.DISABLED, out)
            elif state is S.DISABLED and entry.enabled:
                self._change(name, S.STOPPED, out)
        return len(out) > before

    def _done(self, event: OperationDone, out: list[Action]) -> None:
        name, state, now = event.service, self.local[event.service], self.now
        if event.op is Op.START and state is S.STARTING:
            restart = self.recovery.restarting(name)
            if event.ok:
                self._change(name, S.STARTED, out)
                if restart:
                    self._apply(name, self.recovery.ended(name, True, now), out)
            elif restart:  # a restart in place that failed: the policy escalates
                self._apply(name, self.recovery.ended(name, False, now), out, fallback=Step.RELOCATE)
            else:
                self._apply(name, self.recovery.failed(name, name, "start failed", None, now), out,
                            fallback=Step.RELOCATE)
        elif event.op is Op.STOP and state in (S.STOPPING, S.RECOVERING):
            if not event.ok:
                self._change(name, S.FAILED, out)
                # tried again only at the admin's next disable (a new generation), never at once: a stop
                # that always fails would otherwise run in a loop
                self.failed_at[name] = self.current.table[name].generation if self.current is not None else -1
                self.recovery.left(name, now)
                if not self.quorate:
                    out.append(SelfFence(name, FenceCause.STOP_FAILED_WITHOUT_QUORUM))
            elif state is S.RECOVERING:
                self._after_recovery(name, out)
            else:
                disabled = self.current is not None and not self.current.table[name].enabled
                self._change(name, S.DISABLED if disabled else S.STOPPED, out)
                self.recovery.left(name, now)
        elif event.op is Op.RESTART_SUBTREE and state is S.STARTED:
            self._apply(name, self.recovery.ended(name, event.ok, now, event.subtree), out)
        self._follow(out)
        self._report(out)

    def _status_failed(self, event: StatusFailed, out: list[Action]) -> None:
        name = event.service
        if self.local.get(name) is not S.STARTED:
            return  # frozen: no checks; not running here: a late result
        decision = self.recovery.failed(name, event.resource or name, event.reason, event.subtree, self.now)
        self._apply(name, decision, out)
        self._report(out)

    def _apply(self, name: str, decision: Decision, out: list[Action], fallback: Step | None = None) -> None:
        """Carry out the recovery policy's decision (`fallback` when it has none and one is needed)."""
        out.extend(decision.logs)
        if decision.subtree is not None:
            out.append(RestartSubtree(name, decision.subtree))
        elif decision.step is not None or fallback is not None:
            self._recover(name, decision.step or fallback or Step.RESTART, out)

    def _recover(self, name: str, step: Step, out: list[Action]) -> None:
        self.next_step[name] = step
        self._stop(name, S.RECOVERING, out)  # first: the request below may come back at once (coordinating)
        if step is not Step.RESTART and self.leader is not None:
            op = RecoveryOp.RELOCATE if step is Step.RELOCATE else RecoveryOp.DISABLE
            self.hold[name] = op
            self._request(Forward(self.me, self._next_id(), RecoveryRequest(op, name)), out)

    def _after_recovery(self, name: str, out: list[Action]) -> None:
        step = self.next_step.pop(name, Step.RESTART)
        entry = self.current.table[name] if self.current is not None else None
        if step is Step.DISABLE:
            self._change(name, S.DISABLED, out)
        elif step is Step.RESTART and self.quorate and entry is not None and entry.placement == self.me \
                and entry.go and entry.enabled and not entry.frozen:
            self._change(name, S.STARTING, out)
            out.append(StartService(name))
            return
        else:
            self._change(name, S.STOPPED, out)
        self.recovery.left(name, self.now)

    # --- admin -----------------------------------------------------------------------------------

    def _next_id(self) -> int:
        self._request_ids += 1
        return self._request_ids

    def _request(self, forward: Forward, out: list[Action]) -> None:
        leader = self.leader
        if leader == self.me:
            self._message(forward, out)
        elif leader is not None:
            out.append(Send(leader, forward))

    def _admin(self, event: AdminRequested, out: list[Action]) -> None:
        if not self.quorate:
            out.append(AdminReply(event.request_id, Refusal.NOT_QUORATE))
            return
        self._request(Forward(self.me, event.request_id, event.request), out)
