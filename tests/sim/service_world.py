"""A seeded world of 2-5 service cores (hbd/core/service_node.py) over a simulated service-layer network.

Membership is abstracted as reliable-or-cut links: the nodes are split into components; inside one,
messages arrive in order after a random delay; across a cut they are lost. Every node of a component is
told its new membership at the same instant, except that nodes left without quorum may learn of a split up
to `detect_ms` later (the quorate side declaring them dead first is the dangerous order); a pending view is
delivered before any newer one. Quorum: more than half of all configured votes (cman without two_node).
Resources are the world's own truth (`up`): a start brings a service up on a node at once, a successful
stop (or power-off) takes it down, a failed stop leaves it up. Invariants, checked after every step on
that truth: never two nodes with a service up in one quorate component; never up outside its restricted
domain; no illegal state edge. After the random part: heal, boot every node, repair failed services
through admin requests, wait, and require convergence.
"""
from __future__ import annotations

import heapq
import random
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from hbd.core import service_events as e
from hbd.core.service_model import (
    Catalog, DependMode, Domain, DomainMember, NodeSpec, Recovery, ServiceSpec, Subtree,
)
from hbd.core.service_node import ServiceNode
from hbd.core.service_states import IllegalTransition, ServiceState
from hbd.core.service_table import AdminOp, AdminRequest

OP_MAX_MS = 40
STARTUP_STOP_FAIL = 0.3  # a restarted daemon's stop of a service still up fails (often, to exercise it)
DETECT_MS = 60
GRACE_MS = DETECT_MS + 2 * OP_MAX_MS + 20  # >= detection + a start that must finish + its stop


def random_catalog(rng: random.Random) -> Catalog:
    n = rng.randint(2, 5)
    nodes = tuple(NodeSpec(f"n{i}", i) for i in range(1, n + 1))
    names = [x.name for x in nodes]
    services = []
    for k in range(rng.randint(1, 4)):
        domain = None
        if rng.random() < 0.7:
            members = rng.sample(names, rng.randint(1, n))
            ordered = rng.random() < 0.6
            domain = Domain(f"d{k}", ordered, rng.random() < 0.5, rng.random() < 0.3,
                            tuple(DomainMember(m, rng.randint(0, 3) if ordered else 0) for m in members))
        depend = f"s{rng.randrange(k)}" if k and rng.random() < 0.25 else None
        services.append(ServiceSpec(
            f"s{k}", autostart=rng.random() < 0.9, domain=domain, recovery=rng.choice(list(Recovery)),
            max_restarts=rng.randint(0, 2), restart_expire_ms=rng.choice([0, 300]),
            exclusive=rng.random() < 0.1, depend=depend,
            depend_mode=DependMode.SOFT if rng.random() < 0.3 else DependMode.HARD,
            independent=(Subtree("script:app", 1, 0, False),) if rng.random() < 0.3 else ()))
    return Catalog(nodes, tuple(services))


@dataclass
class Options:
    steps: int = 10  # random events before the quiet part
    start_fail: float = 0.1
    stop_fail: float = 0.05
    fencing: bool = False  # a quorate component powers off the nodes it lost, then tells its cores
    make: Callable[[str, Catalog], ServiceNode] | None = None  # to break the core in mutation tests


@dataclass
class World:
    seed: int
    opts: Options
    rng: random.Random = field(init=False)
    catalog: Catalog = field(init=False)
    now: int = 0
    violations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.catalog = random_catalog(self.rng)
        self.names = [x.name for x in self.catalog.nodes]
        self.total_votes = sum(x.votes for x in self.catalog.nodes)
        self.restricted = {s.name: s.domain for s in self.catalog.services if s.domain and s.domain.restricted}
        self.cores: dict[str, ServiceNode | None] = {}
        self.life: dict[str, int] = {n: 0 for n in self.names}
        self.up: dict[str, set[str]] = {n: set() for n in self.names}
        self.comp: dict[str, int] = {n: 0 for n in self.names}  # component id per powered node
        self.views: dict[str, frozenset[str]] = {}
        self.pending_view: dict[str, tuple[int, frozenset[str]]] = {}
        self.queue: list[tuple[int, int, str, Any]] = []
        self.fifo: dict[tuple[str, str], int] = {}
        self.counter = 0
        self.replies: list[tuple[str, e.AdminReply]] = []
        self.stats: Counter[str] = Counter()  # what happened, for the test that the histories exercise it
        self.last_up: dict[str, str] = {}  # service -> the node it last came up on
        for n in self.names:
            self._boot(n, announce=False)
        self._topology()

    # --- plumbing --------------------------------------------------------------------------------

    def _push(self, at: int, kind: str, payload: Any) -> None:
        self.counter += 1
        heapq.heappush(self.queue, (at, self.counter, kind, payload))

    def quorate(self, nodes: frozenset[str]) -> bool:
        return 2 * sum(x.votes for x in self.catalog.nodes if x.name in nodes) > self.total_votes

    def component(self, node: str) -> frozenset[str]:
        return frozenset(n for n in self.names if self.cores.get(n) is not None and self.comp[n] == self.comp[node])

    def _feed(self, node: str, event: e.Event) -> None:
        core = self.cores.get(node)
        if core is None:
            return
        try:
            actions = core.handle(event, self.now)
        except IllegalTransition as exc:
            self.violations.append(f"t={self.now} {node}: {exc}")
            return
        life = self.life[node]
        started = False
        for action in actions:
            if isinstance(action, e.Send):
                self._send(node, action)
            elif isinstance(action, e.StartService):
                self.up[node].add(action.service)
                started = True
                self.stats["start"] += 1
                if self.last_up.get(action.service, node) != node:
                    self.stats["failover"] += 1
                self.last_up[action.service] = node
                self._op(node, life, action.service, e.Op.START, self.opts.start_fail)
            elif isinstance(action, e.StopService):
                if not core.quorate:
                    self.stats["minority stop"] += 1
                self._op(node, life, action.service, e.Op.STOP, self.opts.stop_fail)
            elif isinstance(action, e.RestartSubtree):
                self._op(node, life, action.service, e.Op.RESTART_SUBTREE, self.opts.start_fail, action.subtree)
            elif isinstance(action, e.AdminReply):
                self.replies.append((node, action))
                self.stats["refusal" if action.refusal is not None else "accepted"] += 1
            elif isinstance(action, e.ServiceTransition) and action.new is ServiceState.RECOVERING:
                self.stats["recovery"] += 1
            elif isinstance(action, e.SelfFence):
                self.stats["self-fence"] += 1
                self._push(self.now, "reboot", node)
        deadline = core.next_deadline(self.now)
        if deadline is not None:
            self._push(max(deadline, self.now + 1), "tick", node)
        if started:  # only a start or a change of components can break an invariant
            self._check()

    def _send(self, sender: str, action: e.Send) -> None:
        if self.cores.get(action.to) is None or self.comp[action.to] != self.comp[sender]:
            return  # cut
        link = (sender, action.to)
        at = max(self.fifo.get(link, 0), self.now + self.rng.randint(1, 5))
        self.fifo[link] = at
        self._push(at, "msg", (sender, action.to, self.life[sender], self.life[action.to], action.message))

    def _op(self, node: str, life: int, service: str, op: e.Op, fail: float, subtree: str | None = None) -> None:
        ok = self.rng.random() >= fail
        self._push(self.now + self.rng.randint(1, OP_MAX_MS), "op", (node, life, service, op, ok, subtree))

    # --- topology --------------------------------------------------------------------------------

    def _topology(self) -> None:
        """Tell every powered node its component (delayed for nodes left without quorum)."""
        self._check()
        for node in self.names:
            if self.cores.get(node) is None:
                continue
            view = self.component(node)
            if node in self.pending_view:
                self._deliver_view(node, self.pending_view.pop(node)[1])
            if view == self.views.get(node):
                continue
            if not self.quorate(view) and self.quorate(self.views.get(node, frozenset())):
                at = self.now + self.rng.randint(0, DETECT_MS)
                self.pending_view[node] = (at, view)
                self._push(at, "view", (node, self.life[node], view))
            else:
                self._deliver_view(node, view)

    def _deliver_view(self, node: str, view: frozenset[str]) -> None:
        if self.opts.fencing and self.quorate(view):
            for lost in self.views.get(node, frozenset()) - view:
                self._push(self.now + self.rng.randint(5, 50), "fence", (lost, self.life[lost], view))
        self.views[node] = view
        self._feed(node, e.MembersChanged(view))
        self._feed(node, e.QuorumChanged(self.quorate(view)))

    def _boot(self, node: str, announce: bool = True) -> None:
        self.life[node] += 1
        make = self.opts.make or (lambda me, cat: ServiceNode(me, cat, GRACE_MS))
        self.cores[node] = make(node, self.catalog)
        self.views.pop(node, None)
        self.up[node] = set()
        ids = {self.comp[n] for n in self.names if self.cores.get(n) is not None and n != node}
        self.comp[node] = self.rng.choice(sorted(ids)) if ids else 0
        if announce:
            self._topology()

    def _restart_daemon(self, node: str) -> None:
        """The daemon restarts on a powered node (killed, then started again) with its services still up: its
        new core first stops every one of them, and those whose stop fails join as failed (StartupStopFailed)."""
        kept = set(self.up[node])
        self._crash(node)
        self._boot(node, announce=False)
        failed = {s for s in sorted(kept) if self.rng.random() < STARTUP_STOP_FAIL}
        self.up[node] = failed
        if failed:
            self.stats["start-up stop failed"] += 1
            self._feed(node, e.StartupStopFailed(frozenset(failed)))
        self._topology()

    def _crash(self, node: str) -> None:
        self.cores[node] = None
        self.up[node] = set()
        self.views.pop(node, None)
        self.pending_view.pop(node, None)
        self._topology()

    # --- invariants ------------------------------------------------------------------------------

    def _check(self) -> None:
        groups: dict[int, list[str]] = {}
        for node in self.names:
            if self.cores.get(node) is not None:
                groups.setdefault(self.comp[node], []).append(node)
        for comp in groups.values():
            if not self.quorate(frozenset(comp)):
                continue
            seen: set[str] = set()
            for node in comp:
                both = seen & self.up[node]
                if both:
                    owners = sorted(n for n in comp if both & self.up[n])
                    self.violations.append(f"t={self.now} two owners of {sorted(both)} in quorate {sorted(comp)}: {owners}")
                seen |= self.up[node]
        for node in self.names:
            for name in self.up[node]:
                domain = self.restricted.get(name)
                if domain is not None and not domain.has(node):
                    self.violations.append(f"t={self.now} {name} up on {node}, outside restricted domain {domain.name}")

    # --- running ---------------------------------------------------------------------------------

    def run_until(self, end: int) -> None:
        while self.queue and self.queue[0][0] <= end:
            at, _, kind, payload = heapq.heappop(self.queue)
            self.now = max(self.now, at)
            self._dispatch(kind, payload)
        self.now = max(self.now, end)
        for node in self.names:  # suspects' grace: the driver ticks at the core's deadline
            core = self.cores.get(node)
            if core is not None:
                deadline = core.next_deadline(self.now)
                if deadline is not None and deadline <= self.now:
                    self._feed(node, e.Tick())

    def _dispatch(self, kind: str, payload: Any) -> None:
        if kind == "msg":
            sender, to, slife, tlife, message = payload
            if self.life[sender] == slife and self.life[to] == tlife and self.cores.get(sender) is not None \
                    and self.comp.get(to) == self.comp.get(sender):
                self._feed(to, e.MessageReceived(message))
        elif kind == "op":
            node, life, service, op, ok, subtree = payload
            if self.life[node] != life or self.cores.get(node) is None:
                return
            if op is e.Op.STOP and ok:
                self.up[node].discard(service)
            self._feed(node, e.OperationDone(service, op, ok, subtree))
        elif kind == "view":
            node, life, view = payload
            if self.life[node] == life and self.pending_view.get(node, (0, None))[1] == view:
                del self.pending_view[node]
                self._deliver_view(node, view)
        elif kind == "reboot":
            if self.cores.get(payload) is not None:
                self._crash(payload)
                self._boot(payload)
        elif kind == "tick":
            self._feed(payload, e.Tick())
        elif kind == "fence":
            lost, life, view = payload
            if self.life[lost] != life or (self.cores.get(lost) is not None and lost in self.component(next(iter(view)))):
                return  # rebooted meanwhile, or back in the component: nothing to fence
            if self.cores.get(lost) is not None:
                self.stats["fenced"] += 1
                self._crash(lost)
            for node in sorted(view):
                if self.cores.get(node) is not None:
                    self._feed(node, e.NodeFenced(lost))

    def step(self) -> None:
        """One random disturbance, then some time."""
        rng, powered = self.rng, [n for n in self.names if self.cores.get(n) is not None]
        roll = rng.random()
        if roll < 0.15 and len(powered) > 1:
            for n in powered:
                self.comp[n] = rng.randint(0, 2)
            self.stats["partition"] += 1
            self._topology()
        elif roll < 0.3:
            for n in powered:
                self.comp[n] = 0
            self._topology()
        elif roll < 0.42 and powered:
            node = rng.choice(powered)
            if rng.random() < 0.3:
                self._restart_daemon(node)
            else:
                self._crash(node)
        elif roll < 0.55:
            down = [n for n in self.names if self.cores.get(n) is None]
            if down:
                self._boot(rng.choice(down))
        elif roll < 0.8:
            running = [(n, s) for n in powered for s, st in self._core(n).local.items()
                       if st is ServiceState.STARTED]
            if running:
                node, name = rng.choice(running)
                subtree = "script:app" if rng.random() < 0.5 else None
                self._feed(node, e.StatusFailed(name, subtree))
        elif powered:
            op = rng.choice(list(AdminOp))
            target = rng.choice(self.names + [None, None]) if op in (AdminOp.ENABLE, AdminOp.RELOCATE) else None
            request = AdminRequest(op, rng.choice(self.catalog.names), target)
            self.counter += 1
            self._feed(rng.choice(powered), e.AdminRequested(self.counter, request))
        self.run_until(self.now + rng.choice([0, 5, 20, 60, 150, 400]))

    def _core(self, node: str) -> ServiceNode:
        core = self.cores[node]
        assert core is not None
        return core

    def quiet(self) -> None:
        """Heal, power everything on, no more failures; repair failed services, unfreeze; then settle."""
        self.opts = replace(self.opts, start_fail=0.0, stop_fail=0.0)
        for n in self.names:
            if self.cores.get(n) is None:
                self._boot(n, announce=False)
        for n in self.names:
            self.comp[n] = 0
        self._topology()
        self.run_until(self.now + GRACE_MS + 300)
        leader = self.catalog.coordinator(frozenset(self.names))
        assert leader is not None
        for name in self.catalog.names:
            states = {self._core(n).local[name] for n in self.names}
            if ServiceState.FAILED in states:
                self._admin(leader, AdminOp.DISABLE, name)
                self.run_until(self.now + 200)
                self._admin(leader, AdminOp.ENABLE, name)
            self._admin(leader, AdminOp.UNFREEZE, name)
        self.run_until(self.now + GRACE_MS + 600)

    def _admin(self, node: str, op: AdminOp, name: str) -> None:
        self.counter += 1
        self._feed(node, e.AdminRequested(self.counter, AdminRequest(op, name)))

    def convergence(self) -> list[str]:
        """Every enabled service runs on exactly one node, unless the rules explain why it cannot."""
        table = self._core(self.names[0]).table()
        if table is None:
            return [f"{self.names[0]} follows no announcement after the quiet period"]
        problems = []
        for spec in self.catalog.services:
            entry = table[spec.name]
            owners = [n for n in self.names if spec.name in self.up[n]]
            started = [n for n in self.names if self._core(n).local[spec.name] is ServiceState.STARTED]
            if not entry.enabled:
                if owners:
                    problems.append(f"disabled {spec.name} still up on {owners}")
                continue
            if len(owners) == 1 and started == owners:
                continue
            if not owners and self._explained(spec, table):
                continue
            problems.append(f"enabled {spec.name}: up on {owners}, started on {started}, entry {entry}")
        return problems

    def _explained(self, spec: ServiceSpec, table: dict[str, Any]) -> bool:
        """Why an enabled service may rightly run nowhere: its dependency is not running, or exclusivity."""
        if spec.depend is not None:
            dep = self.catalog.service(spec.depend)
            if not any(spec.depend in self.up[n] for n in self.names) or dep is None:
                return True
        if spec.exclusive or any(s.exclusive for s in self.catalog.services):
            return True
        return False


def run_world(seed: int, opts: Options | None = None) -> World:
    world = World(seed, opts or Options())
    world.run_until(GRACE_MS + 200)
    for _ in range(world.opts.steps):
        world.step()
    world.quiet()
    if not world.violations:
        world.violations += [f"no convergence: {p}" for p in world.convergence()]
    return world
