"""Drives the services core (hbd/core/service_node.py) from the daemon's event loop; decides nothing itself.

In: the membership's verdicts (the nodes alive, this one included) through cman's quorum rule
(hbd/core/quorum.py) as MembersChanged + QuorumChanged; NodeFenced from the fencing lanes; the service
messages of the other nodes (decoded by the wire codec); the outcome of every start, stop and subtree
restart (OperationDone); failed status checks (StatusFailed); admin requests (AdminRequested); Tick at the
core's next deadline. Out: the core's actions carried out:
- StartService / StopService / RestartSubtree run the service's resource tree through the one plan executor
  (hbd/runtime/groups.py over hbd/agents/executor.py) in the order `hbd test noop start|stop service NAME`
  prints, on worker threads, so heartbeats never wait for an agent;
- Send goes out as a sequenced membership message addressed to the node (`send`);
- SelfFence is handed to `self_fence` (the daemon: this node's own fence plan, else a reboot);
- each running resource is checked at its interval with its timeout by the monitor's check runner
  (hbd/runtime/monitor.py), a failure becoming StatusFailed (subtree: its independent root, if any).

Before it takes part, the driver stops every service here (rgmanager does the same at start-up): a daemon
that was killed may have left resources running that the cluster would start elsewhere. Until that stop
has finished the driver tells the core nothing, so this node reports nothing and is placed nothing.

Views differ in time: a peer may report (or announce) for a membership this node learns only a moment
later, and the core ignores a message sent for another membership, expecting a fresh one to follow. The
sender sends one only when its own view changes, so the driver keeps each node's newest Report and
Announce and hands them to the core again after every change of this node's view: each is still its
sender's current word (a node reports after every change of its state) as long as the sender has not left
this node's view meanwhile; what a node said before it left is forgotten when it leaves (after a partition
its state has moved on, and its old report would count as current for a member set that looks the same).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from hbd.agents.base import Agent
from hbd.agents.ocf import OcfAgent
from hbd.config.model import ResourceNode
from hbd.config.monitoring import MonitorSettings
from hbd.config.rules import child_type_table
from hbd.core import recovery as r
from hbd.core.ownership_types import Log
from hbd.core.quorum import Quorum
from hbd.core.service_events import (
    Action, AdminReply, AdminRequested, DoubleOwnership, Event, MembersChanged, MessageReceived, NodeFenced, Op,
    OperationDone, QuorumChanged, Reannounce, RestartSubtree, SelfFence, Send, ServiceTransition, StartService,
    StartupStopFailed, StatusFailed, StopService, Tick,
)
from hbd.core.service_model import Catalog
from hbd.core.service_node import ServiceNode
from hbd.core.service_outcome import AdminOutcome, AdminResult, AdminWait
from hbd.core.service_states import ServiceState
from hbd.core.service_table import AdminRequest, Announce, Entry, Report, ServiceMessage
from hbd.runtime.groups import GroupResult, GroupRunner
from hbd.runtime.logsetup import log_hb
from hbd.runtime.monitor import Monitor
from hbd.runtime.service_trees import ServiceTrees, subtree_key

LOG = logging.getLogger("hbd.services")
ADMIN_IDS = 1 << 24  # above the core's own request ids (its recovery requests count from 1)
TRANSITIONS_KEPT = 50
MAX_WORKERS = 4


def ms(seconds: float) -> int:
    return round(seconds * 1000)


class ServiceMonitor(Monitor):
    """monitor.py's check runner with each resource's check from cluster.conf (service_trees.check_timing)."""

    def __init__(self, trees: ServiceTrees, resolve: Callable[[ResourceNode], Agent],
                 report: Callable[[r.Event], None], may_check: Callable[[str], bool]):
        super().__init__(trees.services, child_type_table(), resolve, MonitorSettings(), report, may_check)
        self.timings = trees.timings

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        super().start(loop)  # resolves the agents and arms the class defaults; then each resource's own check
        for check in self.checks:
            if check.agent is None or check.agent.kind == "container":
                continue
            if check.timer is not None:
                check.timer.cancel()
                check.timer = None
            timing = self.timings.get(check.node.ident)
            if timing is None:
                continue  # its rule has no polled status action: not checked (rgmanager)
            check.timing = timing
            inner = getattr(check.agent, "inner", check.agent)  # service_timeouts.BoundedAgent's own agent
            if isinstance(inner, OcfAgent):
                inner.check_level = timing.depth  # this instance runs the checks only
            self._arm(check)


class ServiceDriver:
    def __init__(self, me: str, catalog: Catalog, trees: ServiceTrees, runner: GroupRunner, quorum: Quorum,
                 grace_ms: int, send: Callable[[str, ServiceMessage], None], *,
                 self_fence: Callable[[SelfFence], None], workers: int = MAX_WORKERS,
                 until_fenced: frozenset[str] = frozenset()):
        self.names = {n.name.lower(): n.name for n in catalog.nodes}  # membership names are lower case
        self.me = self.names.get(me.lower(), me)
        self.catalog, self.trees, self.runner, self.quorum = catalog, trees, runner, quorum
        self.node = ServiceNode(self.me, catalog, grace_ms,
                                until_fenced=frozenset(self.names.get(n.lower(), n) for n in until_fenced))
        self.send = send
        self.self_fence = self_fence
        self.worker = ThreadPoolExecutor(max_workers=max(1, min(workers, len(trees.plans))),
                                         thread_name_prefix="hbd-svc")
        self.monitor = ServiceMonitor(trees, runner.resolve, self._checked, self._may_check)
        self.busy: set[str] = set()  # services with a start, stop or subtree restart under way
        self.ready = False  # the start-up stop has finished
        self.closing = False
        self.alive: frozenset[str] | None = None  # the membership's last verdict
        self.transitions: deque[tuple[float, float, str]] = deque(maxlen=TRANSITIONS_KEPT)  # wall, loop time
        self.loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._admin_ids = ADMIN_IDS
        self._waits: dict[int, tuple[AdminWait, asyncio.Future[AdminOutcome]]] = {}  # admin requests under way
        self.newest: dict[tuple[str, type], Announce | Report] = {}  # (sender, kind) -> its newest message
        self.order: dict[tuple[str, type], tuple[int, int]] = {}  # ... and its (generation, seq) on the membership
        self.observers: list[Callable[[Action], None]] = []  # see each action carried out (alerts)

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        log_hb(LOG, "info", f"Stopping every service before joining: {', '.join(self.trees.services) or 'none'}")

        def stop_all() -> list[GroupResult]:
            return [self.runner.stop(name) for name in self.trees.services]

        loop.run_in_executor(self.worker, stop_all).add_done_callback(self._stopped_all)

    def _stopped_all(self, future: asyncio.Future[list[GroupResult]]) -> None:
        try:
            failed = [res for res in future.result() if not res.ok]
        except Exception as exc:  # an agent bug: as unsafe as a failed stop
            LOG.exception("start-up stop failed (bug)", extra={"hb_level": "ERROR"})
            failed = [GroupResult("?", False, f"internal error: {exc}")]
        if self.closing:
            return
        names = {res.key for res in failed}
        if names - set(self.trees.services):  # an agent bug names no service: any of them may still run
            names = set(self.trees.services)
        for name in sorted(names):
            log_hb(LOG, "CRIT", f"Service {name} could not be stopped at start-up: "
                                f"{next((r.reason for r in failed if r.key == name), 'internal error')}; it is "
                                f"failed here and starts nowhere else until an admin disables it (hbd svc disable "
                                f"{name}), which tries the stop again")
        if not names:
            log_hb(LOG, "info", "Every service is stopped here: taking part in the cluster's services")
        self.ready = True
        if names:
            self.step(StartupStopFailed(frozenset(names)))
        assert self.loop is not None
        self.monitor.start(self.loop)
        if self.alive is not None:
            self._deliver(self.alive, first=True)

    def close(self) -> None:
        self.closing = True
        self.monitor.close()
        if self._timer is not None:
            self._timer.cancel()
        self.worker.shutdown(wait=False, cancel_futures=True)

    async def stop_all(self, timeout_s: float) -> list[GroupResult]:
        """Graceful shutdown: no more steps; wait for the operations under way, then stop every service here."""
        assert self.loop is not None
        self.closing = True
        self.monitor.close()
        deadline = self.loop.time() + timeout_s
        while self.busy and self.loop.time() < deadline:
            await asyncio.sleep(0.05)
        running = [n for n, st in self.node.local.items() if st is not ServiceState.STOPPED
                   and st is not ServiceState.DISABLED]
        if not running:
            return []
        log_hb(LOG, "info", f"Stopping services for shutdown: {', '.join(running)}")
        return await self.loop.run_in_executor(self.worker, lambda: [self.runner.stop(n) for n in running])

    # --- what the daemon tells it ------------------------------------------------------------------

    def members(self, alive: frozenset[str]) -> None:
        """The membership's verdict: the nodes alive (names as the membership has them), this one included."""
        alive = frozenset(self.names.get(n.lower(), n) for n in alive) | {self.me}
        first = self.alive is None
        for gone in (self.alive or frozenset()) - alive:  # its word from before it left is no longer its state
            self.newest = {key: msg for key, msg in self.newest.items() if key[0] != gone}
        self.alive = alive
        if self.ready:
            self._deliver(alive, first)

    def restarted(self, node: str) -> None:
        """A node's daemon restarted unseen: it stopped everything at its start, so it leaves and rejoins."""
        name = self.names.get(node.lower(), node)
        if self.alive is not None and name in self.alive:
            self.members(self.alive - {name})
            self.members(self.alive | {name})

    def _deliver(self, alive: frozenset[str], first: bool) -> None:
        change = self.quorum.update(alive)
        if change is None and not first:
            return
        state = self.quorum.state
        log_hb(LOG, "info", f"Members {', '.join(sorted(alive))}: {'quorate' if state.quorate else 'NOT quorate'} "
                            f"({state.total_votes} of {state.expected_votes} votes, quorum {state.quorum})")
        self.step(MembersChanged(alive))
        self.step(QuorumChanged(state.quorate))
        for message in list(self.newest.values()):  # sent for this view before this node had it
            if message.members == self.node.members:
                self.step(MessageReceived(message))

    def fenced(self, node: str) -> None:
        self.step(NodeFenced(self.names.get(node.lower(), node)))

    def received(self, message: ServiceMessage, order: tuple[int, int] | None = None) -> None:
        """A message of another node; `order`: its (generation, sequence number) on the membership. The membership
        delivers a retransmitted message when it comes, possibly after a newer one: a Report or an Announce older
        than one already delivered from the same sender is superseded by it (each is a whole snapshot) and is
        dropped, so that an old state never overwrites a newer one (the core keeps one Report per sender)."""
        if isinstance(message, (Announce, Report)):
            key = (message.sender, type(message))
            if order is not None:
                if key in self.order and order <= self.order[key]:
                    return
                self.order[key] = order
            self.newest[key] = message
        self.step(MessageReceived(message))

    # --- the core ----------------------------------------------------------------------------------

    def step(self, event: Event) -> None:
        if self.closing or not self.ready or self.loop is None:
            return
        now = ms(self.loop.time())
        try:
            actions = self.node.handle(event, now)
        except Exception:  # a bug in the core must not stop the daemon: log it; the services stay as they are
            LOG.exception("service step failed (bug) on %s", type(event).__name__, extra={"hb_level": "ERROR"})
            actions = []
        for action in actions:
            self._carry_out(action)
        self._schedule(now)
        table = self.node.table()
        for wait, future in self._waits.values():  # after every step: a restart's states may all pass in one turn
            outcome = wait.observe(table) if not future.done() else None
            if outcome is not None:
                future.set_result(outcome)

    def _schedule(self, now: int) -> None:
        assert self.loop is not None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        due = self.node.next_deadline(now)
        if due is not None:
            self._timer = self.loop.call_later(max(0, due - now) / 1000, self.step, Tick())

    def _carry_out(self, action: Action) -> None:
        for observer in self.observers:
            observer(action)
        if isinstance(action, DoubleOwnership):
            self._double_ownership(action)
        elif isinstance(action, Reannounce):
            log_hb(LOG, "info", f"Service {action.service}: announcing its addresses again (the double ownership "
                                "is over)")
            assert self.loop is not None
            self.loop.run_in_executor(self.worker, self._announce, action.service)  # agents' I/O off the loop
        elif isinstance(action, StartService):
            self._operate(action.service, Op.START, lambda: self.runner.start(action.service))
        elif isinstance(action, StopService):
            self._operate(action.service, Op.STOP, lambda: self.runner.stop(action.service))
        elif isinstance(action, RestartSubtree):
            key = subtree_key(action.service, action.subtree)
            log_hb(LOG, "WARN", f"Restarting {action.subtree} of service {action.service} alone "
                                "(independent subtree)")
            self._operate(action.service, Op.RESTART_SUBTREE, lambda: self._restart(key), action.subtree)
        elif isinstance(action, Send):
            self.send(action.to, action.message)
        elif isinstance(action, ServiceTransition):
            text = f"Service {action.service}: {action.old.value} -> {action.new.value}"
            log_hb(LOG, "info", text)
            self.transitions.append((time.time(), self.loop.time() if self.loop else 0.0, text))
            self.monitor.changed(action.service)
        elif isinstance(action, AdminReply):
            wait, future = self._waits.get(action.request_id, (None, None))
            if wait is not None and future is not None and not future.done():
                outcome = wait.replied(action.refusal)
                if outcome is not None:
                    future.set_result(outcome)
        elif isinstance(action, SelfFence):
            log_hb(LOG, "CRIT", f"Service {action.service}: {action.cause.value}: this node must not keep it; "
                                "fencing itself")
            self.self_fence(action)
        elif isinstance(action, Log):
            log_hb(LOG, action.level, action.text)

    def _announce(self, service: str) -> None:
        try:
            self.runner.announce(service)
        except Exception:  # an agent bug: the addresses stay, only the announcement is missing
            LOG.exception("announcing %s failed (bug)", service, extra={"hb_level": "ERROR"})

    def _double_ownership(self, action: DoubleOwnership) -> None:
        """Heartbeat's wording (doc/split-brain.md), then which node keeps the service."""
        keeps = action.keeper == self.me
        log_hb(LOG, "ERROR", f"Both machines own {'our' if keeps else 'foreign'} resources!")
        holders = " and ".join(sorted(action.holders))
        log_hb(LOG, "CRIT", f"Service {action.service} runs on {holders} after a partition (split brain): "
                            f"{action.keeper or 'no node'} keeps it" + ("" if keeps else ", stopping it here"))

    def _restart(self, key: str) -> GroupResult:
        stopped = self.runner.stop(key)
        return self.runner.start(key) if stopped.ok else stopped

    def _operate(self, service: str, op: Op, work: Callable[[], GroupResult], subtree: str | None = None) -> None:
        assert self.loop is not None
        self.busy.add(service)
        self.monitor.changed(service)
        log_hb(LOG, "info", f"Service {service}: {op.value}" + (f" {subtree}" if subtree else ""))

        def done(future: asyncio.Future[GroupResult]) -> None:
            try:
                result = future.result()
            except Exception as exc:  # an agent bug: the operation failed
                LOG.exception("%s of %s failed (bug)", op.value, service, extra={"hb_level": "ERROR"})
                result = GroupResult(service, False, f"internal error: {exc}")
            except BaseException:  # cancelled at shutdown
                return
            self.busy.discard(service)
            self.monitor.changed(service)
            if not result.ok:
                log_hb(LOG, "ERROR", f"Service {service}: {op.value} failed: {result.reason}")
            self.step(OperationDone(service, op, result.ok, subtree))

        self.loop.run_in_executor(self.worker, work).add_done_callback(done)

    # --- status checks -----------------------------------------------------------------------------

    def _may_check(self, service: str) -> bool:
        return self.ready and service not in self.busy and self.node.local.get(service) is ServiceState.STARTED

    def _checked(self, event: r.Event) -> None:
        if isinstance(event, r.CheckFailed):
            self.step(StatusFailed(event.group, self.trees.subtree(event.group, event.resource), event.resource,
                                   event.reason))

    # --- admin -------------------------------------------------------------------------------------

    def entry(self, service: str) -> Entry | None:
        table = self.node.table()
        return table.get(service) if table is not None else None

    async def admin(self, request: AdminRequest, timeout_s: float) -> AdminOutcome:
        """An admin request (hbd svc), answered once it has its outcome (hbd/core/service_outcome.py), is
        refused, or has timed out."""
        if not self.ready or self.loop is None:
            return AdminOutcome(AdminResult.UNAVAILABLE)
        self._admin_ids += 1
        request_id = self._admin_ids
        wait = AdminWait(request, self.entry(request.service))
        future: asyncio.Future[AdminOutcome] = self.loop.create_future()
        self._waits[request_id] = (wait, future)
        try:
            self.step(AdminRequested(request_id, request))
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except asyncio.TimeoutError:
            return wait.timed_out(self.node.table())
        finally:
            del self._waits[request_id]

    # --- status ------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The `quorum` and `services` blocks of `hbd status` (/work/notes/svc-runtime-api.md's layout)."""
        assert self.loop is not None
        now = ms(self.loop.time())
        wall_now = time.time()
        q = self.quorum.state
        states = self.runner.resource_states()
        services = []
        table, pending = self.node.shown_table()
        for spec in self.catalog.services:
            entry = (table or {}).get(spec.name) or Entry(enabled=spec.autostart, state=ServiceState.STOPPED
                                                          if spec.autostart else ServiceState.DISABLED)
            count = self.node.recovery.counts(spec.name, now)
            last = None
            if count.last is not None:
                age = (now - count.last.at_ms) / 1000
                last = {"resource": count.last.resource, "reason": count.last.reason,
                        "time": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall_now - age)),
                        "age_s": round(age, 1)}
            seen = dict(states.get(spec.name, []))
            for key, rows in states.items():
                if key.startswith(subtree_key(spec.name, "")):
                    seen.update(rows)
            shown_owner, shown_state = entry.shown
            services.append({
                "name": spec.name, "state": entry.state.value, "owner": entry.owner, "last_owner": entry.last_owner,
                "shown_owner": shown_owner, "shown_state": shown_state, "frozen": entry.frozen,
                "enabled": entry.enabled, "disabled_by": entry.disabled_by.name.lower() if entry.disabled_by else None,
                "local": self.node.local[spec.name].value, "pending": pending,
                "restarts": count.restarts, "failures": count.failures,
                "last_failure": last, "resources": [{"resource": k, "state": v} for k, v in seen.items()]})
        return {"quorum": {"quorate": q.quorate, "members": sorted(q.members), "total_votes": q.total_votes,
                           "expected_votes": q.expected_votes, "quorum": q.quorum},
                "services": services}

    @property
    def stable(self) -> bool:
        return self.ready and not self.busy and all(
            st in (ServiceState.STARTED, ServiceState.STOPPED, ServiceState.DISABLED, ServiceState.FROZEN)
            for st in self.node.local.values())
