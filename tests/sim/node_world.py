"""Two composed node cores (hbd.core.node) over simulated media and a virtual clock, with real wire messages.

Every membership Send is stamped with Heartbeat's control fields and encoded by hbd/core/messages.py
(sha1-signed), every datagram decoded by it on arrival (one decode per distinct datagram), on one or two
media with the seeded loss, delay (so reordering) and duplication of tests/sim/simnet.py's MediumFaults.
Each node hears its own packets back (the own-heartbeat check). Faults: power-off, kill -9 (the daemon
dies, its resources keep running), graceful shutdown, a partition between the nodes and its heal, a NIC
failure (own heartbeat lost: give up, restart), fencing, standby / takeover / failback requests, all at
random times. Ground truth (`actual`) is what runs on each node; IPaddr2's duplicate-address probe refuses
a group whose addresses still answer from the peer, unless the pre-probe found them silent just before.

The invariants of doc/architecture.md are checked on every step (node_invariants.py); a broken one is
recorded in `violations`.
"""
from __future__ import annotations

import dataclasses
import heapq
import random
from dataclasses import dataclass, field
from typing import Any, Callable

from hbd.config.model import AuthKey, AuthKeys
from hbd.core import membership_events as m
from hbd.core import messages
from hbd.core import node_events as n
from hbd.core import ownership_types as o
from hbd.core import recovery as r
from hbd.core.holdings import GroupInfo, Topology
from hbd.core.membership import MembershipConfig
from hbd.core.node import NodeConfig, NodeCore
from node_invariants import TIMING, Invariants
from simnet import MediumFaults

NODES = ("n1", "n2")
KEYS = AuthKeys("authkeys", 1, (AuthKey(1, "sha1", b"simulated"),))


@dataclass
class Options:
    media: int = 1
    loss: float = 0.0
    reorder: bool = False
    duplicate: float = 0.0
    fencing: bool = False
    auto_failback: str = "on"
    groups: int = 2
    disruptions: int = 1
    kinds: tuple[str, ...] = ("power_off", "kill9", "shutdown", "partition", "nic", "standby", "takeover")
    end_ms: int = 10_000
    quiet_ms: int = 3500  # converged this long after the last disruption, restart or heal
    # "resource_fail" (opt-in): a resource of a group running on the node fails its check; restarts in
    # place succeed with this probability
    restart_ok: float = 0.8
    recovery: r.GroupRecovery = r.GroupRecovery()


@dataclass
class Node:
    name: str
    core: NodeCore | None = None
    actual: set[str] = field(default_factory=set)
    generation: int = 0
    inc: int = 0  # incarnation of the daemon: results of an older one are dropped
    timer_at: int | None = None
    nic_cut: bool = False
    restart_ms: int | None = None  # own heartbeat lost: restart this long after the shutdown
    up_since: int = 0
    log: list[str] = field(default_factory=list)


def FAILURE_TEXT(text: str) -> str:
    return text  # what an agent says when a start fails (randomize_reasons replaces it)


class Violation(AssertionError):
    pass


class NodeWorld(Invariants):
    def __init__(self, seed: int, opts: Options, *, transform: Callable[[list[n.Action]], list[n.Action]] | None = None):
        self.rng = random.Random(seed)
        self.opts = opts
        self.transform = transform  # tests: rewrite the actions (e.g. reason texts) before the world sees them
        self.now = 0
        self.events: list[tuple[int, int, str, tuple[Any, ...]]] = []
        self.counter = 0
        delay = (0, 30) if opts.reorder else (0, 2)
        self.faults = [MediumFaults(opts.loss, delay, opts.duplicate) for _ in range(opts.media)]
        prefs = [NODES[i % 2] for i in range(opts.groups)]
        self.topology = Topology(tuple(GroupInfo(f"g{i + 1}", p) for i, p in enumerate(prefs)))
        self.policy = o.Policy(auto_failback=opts.auto_failback, fencing=opts.fencing,  # type: ignore[arg-type]
                               rqstdelay_ms=2000, standby_reply_ms=2000, stop_retries=2, stop_retry_ms=200,
                               fence_retry_ms=1000, failed_retry_ms=2000)
        self.nodes = {name: Node(name) for name in NODES}
        self.partitioned = False
        self.split_possible = False  # a partition or NIC failure happened: both may have run a group
        self.connectivity_changed = 0
        self.last_rx: dict[tuple[str, str], int] = {}
        # (receiver, sender) -> (generation, seq, dt ms) of the newest status heard
        self.peer_dt: dict[tuple[str, str], tuple[int, int, int]] = {}
        self.seen: set[tuple[str, str, str | None, str]] = set()
        self.decoded: dict[bytes, messages.Message] = {}
        self.violations: list[str] = []
        self.trace: list[tuple[int, str, n.Action]] = []  # what the cores decided (not logs)
        self.quiet_since = 0
        self.steps = 0

    # --- scheduling --------------------------------------------------------------------------------

    def at(self, t: int, kind: str, *args: Any) -> None:
        self.counter += 1
        heapq.heappush(self.events, (t, self.counter, kind, args))

    def other(self, name: str) -> str:
        return NODES[1 - NODES.index(name)]

    def connected(self) -> bool:
        return not self.partitioned and not any(node.nic_cut for node in self.nodes.values())

    def fail(self, text: str) -> None:
        self.violations.append(f"t={self.now}: {text}")

    # --- driving a core ----------------------------------------------------------------------------

    def feed(self, name: str, event: n.Event) -> None:
        node = self.nodes[name]
        if node.core is None:
            return
        self.steps += 1
        actions = node.core.handle(event, self.now)
        self.carry_out(name, actions)

    def carry_out(self, name: str, actions: list[n.Action]) -> None:
        node = self.nodes[name]
        if self.transform is not None:
            actions = self.transform(actions)
        for action in actions:
            self.act(name, action)
        if node.core is not None:
            deadline = node.core.next_deadline()
            if deadline != node.timer_at:
                node.timer_at = deadline
                self.at(deadline, "tick", name, node.inc, deadline)

    def act(self, name: str, action: n.Action) -> None:
        node, peer = self.nodes[name], self.nodes[self.other(name)]
        if not isinstance(action, (m.Send, m.Log, o.Log, m.Dropped, m.LinkChanged)):
            self.trace.append((self.now, name, action))
        match action:
            case m.Send():
                self.transmit(name, action)
            case m.NodeChanged(who, "dead") if who == peer.name:
                self.check_detection(name)
                self.quiet_since = self.now  # a death verdict (true, or false under loss): settling again
            case m.PeerReturned() | m.PeerRestarted():
                self.quiet_since = self.now  # a false death healed (loss), or a restart: settling starts again
            case o.StartGroup(key):
                self.check_start(name, key)
                ok = self.address_probe(name, action)
                node.actual.add(key)
                self.at(self.now + self.rng.randint(10, 200), "started", name, node.inc, key, ok)
            case o.StopGroup(key):
                self.at(self.now + self.rng.randint(10, 200), "stopped", name, node.inc, key)
            case o.Fence(target):
                self.at(self.now + self.rng.randint(100, 600), "fenced", name, node.inc, target,
                        self.rng.random() >= 0.2)
            case o.ShutdownComplete():
                self.at(self.now + 1, "exit", name, node.inc)
            case n.Restart(delay_ms):
                node.restart_ms = delay_ms
            case r.RestartGroup(key) | r.RestartResource(key):
                self.at(self.now + self.rng.randint(10, 300), "restarted", name, node.inc, key,
                        self.rng.random() < self.opts.restart_ok)
            case n.ProbeNow(groups, window_ms, lead_ms):
                self.check_probe_timing(name, window_ms, lead_ms)
                for key in groups:
                    self.at(self.now + window_ms, "probe_end", name, node.inc, key, self.now, key in peer.actual)
            case m.Log(level, text) | o.Log(level, text):
                if level in ("WARN", "ERROR", "CRIT"):
                    node.log.append(f"{self.now} {level}: {text}")
            case _:
                pass

    def address_probe(self, name: str, start: o.StartGroup) -> bool:
        """IPaddr2's duplicate-address probe: a start fails while the peer's kernel answers for the address.
        It is skipped when the core's start option says the peer released it (the peer said so, or the
        pre-probe found the addresses silent just before the verdict: the core's rule, pre_probe.py)."""
        peer = self.nodes[self.other(name)]
        if start.peer_released:
            return True  # IPaddr2 started with the release option: no probe
        return start.key not in peer.actual

    def transmit(self, src: str, send: m.Send) -> None:
        node = self.nodes[src]
        sender = messages.Sender(src, src.encode().ljust(16, b"\0"), node.generation, 3)
        fields = messages.with_control_fields(send.body, sender, seq=send.seq, ts=self.now // 1000, load=None,
                                              dest=send.dest)
        datagram = messages.encode(fields, KEYS)
        if node.nic_cut:
            return
        for medium, faults in enumerate(self.faults):
            for receiver in NODES:
                if receiver != src and self.partitioned:
                    continue
                for _ in range(1 + (self.rng.random() < faults.duplicate)):
                    if self.rng.random() < faults.loss:
                        continue
                    self.at(self.now + self.rng.randint(*faults.delay), "packet", receiver, medium, datagram)

    # --- the run -----------------------------------------------------------------------------------

    def boot(self, name: str) -> None:
        node = self.nodes[name]
        node.generation += 1
        node.inc += 1
        node.up_since = self.now
        node.restart_ms = None
        self.quiet_since = self.now
        for key in list(self.last_rx):
            if key[0] == name:
                del self.last_rx[key]
        config = NodeConfig(MembershipConfig(name, NODES, TIMING), self.other(name), self.topology, self.policy,
                            probe_groups=frozenset(self.topology.keys), recovery=self.opts.recovery)
        node.core = NodeCore(config, self.now, generation=node.generation, rng=random.Random(self.rng.random()))
        node.timer_at = None
        self.carry_out(name, node.core.start(self.now))
        self.at(self.now + self.rng.randint(5, 300), "probed", name, node.inc, frozenset(node.actual))

    def run(self) -> "NodeWorld":
        self.boot("n1")
        self.at(self.rng.choice((0, self.rng.randint(1, 1500))), "power_on", "n2")
        t = 1500  # the groups run by then; before 5 s the nodes still advertise the start-up deadtime
        for _ in range(self.opts.disruptions):
            t += self.rng.randint(500, 5000)
            self.at(t, "disrupt", self.rng.choice(self.opts.kinds), self.rng.choice(NODES))
        budget = 200_000
        while self.events and self.steps < budget:
            t, _, kind, args = heapq.heappop(self.events)
            # run on (a little) until the quiet period after the last disruption is over
            if t > max(self.opts.end_ms, min(self.quiet_since + self.opts.quiet_ms, self.opts.end_ms + 3000)):
                break
            self.now = t
            getattr(self, "ev_" + kind)(*args)
        if self.steps >= budget:
            self.fail("step budget exhausted: a livelock")
        self.now = max(self.now, self.opts.end_ms)
        self.converged = self.check_converged()
        return self

    # --- events ------------------------------------------------------------------------------------

    def ev_tick(self, name: str, inc: int, deadline: int) -> None:
        node = self.nodes[name]
        if node.inc == inc and node.timer_at == deadline:
            node.timer_at = None
            self.feed(name, n.Tick())

    def ev_packet(self, receiver: str, medium: int, datagram: bytes) -> None:
        node = self.nodes[receiver]
        if node.core is None or node.nic_cut:
            return
        message = self.decoded.get(datagram)
        if message is None:
            decoded = messages.decode(datagram, KEYS)
            assert isinstance(decoded, messages.Message), decoded
            message = self.decoded[datagram] = decoded
        src = message.src or ""
        # the first copy of each sequenced packet (a retransmission of a seq is not) proves its sender alive
        seq = message.get("seq")
        if seq is not None and src != receiver and (key := (receiver, src, message.get("hg"), seq)) not in self.seen:
            self.seen.add(key)
            self.last_rx[(receiver, src)] = self.now
            dt, order = message.hex_field("dt"), (message.hex_field("hg") or 0, message.hex_field("seq") or 0)
            if dt is not None and order > self.peer_dt.get((receiver, src), (-1, -1, 0))[:2]:
                self.peer_dt[(receiver, src)] = (*order, dt)
        self.feed(receiver, n.Heard(message, f"m{medium}"))

    def ev_probed(self, name: str, inc: int, running: frozenset[str]) -> None:
        if self.nodes[name].inc == inc:
            self.feed(name, o.Probed(running))

    def ev_started(self, name: str, inc: int, key: str, ok: bool) -> None:
        node = self.nodes[name]
        if node.inc != inc:
            return
        if ok:
            self.check_running_once(name, key)
        else:
            node.actual.discard(key)
        self.feed(name, o.GroupStarted(key, ok, "" if ok else FAILURE_TEXT(f"{key}: address in use")))

    def ev_stopped(self, name: str, inc: int, key: str) -> None:
        node = self.nodes[name]
        if node.inc == inc:
            node.actual.discard(key)
            self.feed(name, o.GroupStopped(key, True))

    def ev_restarted(self, name: str, inc: int, key: str, ok: bool) -> None:
        node = self.nodes[name]
        if node.inc != inc:
            return
        if ok:
            node.actual.add(key)  # a restart in place: it never left this node's holdings
            self.check_running_once(name, key)
        else:
            node.actual.discard(key)  # the failed start stopped what it had started
        self.feed(name, r.RecoveryDone(key, ok, "" if ok else FAILURE_TEXT(f"{key}: start failed")))

    def ev_fenced(self, name: str, inc: int, target: str, ok: bool) -> None:
        if self.nodes[name].inc != inc:
            return
        if ok:
            self.power_off(target)
            self.at(self.now + self.rng.randint(500, 2500), "power_on", target)
        self.feed(name, o.Fenced(target, ok))

    def ev_probe_end(self, name: str, inc: int, key: str, began: int, answered_then: bool) -> None:
        node, peer = self.nodes[name], self.nodes[self.other(name)]
        if node.inc == inc:
            answered = answered_then or key in peer.actual
            self.feed(name, n.PreProbeVerdict(key, not answered, self.now - began, self.now))

    def ev_exit(self, name: str, inc: int) -> None:
        node = self.nodes[name]
        if node.inc != inc:
            return
        delay = node.restart_ms if node.restart_ms is not None else self.rng.randint(500, 2500)
        self.daemon_gone(name)
        self.at(self.now + delay, "power_on", name)

    def ev_power_on(self, name: str) -> None:
        if self.nodes[name].core is None:
            self.boot(name)

    def ev_heal(self) -> None:
        self.partitioned = False
        self.connectivity_changed = self.quiet_since = self.now

    def ev_nic_back(self, name: str) -> None:
        self.nodes[name].nic_cut = False
        self.connectivity_changed = self.quiet_since = self.now

    def daemon_gone(self, name: str) -> None:
        node = self.nodes[name]
        node.core = None
        node.inc += 1
        node.timer_at = None

    def power_off(self, name: str) -> None:
        self.daemon_gone(name)
        self.nodes[name].actual.clear()
        self.nodes[name].nic_cut = False

    def ev_disrupt(self, kind: str, name: str) -> None:
        node = self.nodes[name]
        self.quiet_since = self.now
        if node.core is None:
            return
        if kind == "power_off":
            self.power_off(name)
            self.at(self.now + self.rng.randint(500, 2500), "power_on", name)
        elif kind == "kill9":
            self.daemon_gone(name)  # its resources keep running
            self.at(self.now + self.rng.randint(500, 2500), "power_on", name)
        elif kind == "shutdown":
            self.feed(name, o.ShutdownRequested())
        elif kind == "partition" and not self.partitioned:
            self.partitioned = self.split_possible = True
            self.connectivity_changed = self.now
            self.at(self.now + self.rng.randint(300, 3000), "heal")
        elif kind == "nic" and not node.nic_cut:
            node.nic_cut = self.split_possible = True
            self.connectivity_changed = self.now
            self.at(self.now + self.rng.randint(300, 3000), "nic_back", name)
        elif kind == "resource_fail" and node.actual:
            key = self.rng.choice(sorted(node.actual))
            self.feed(name, r.CheckFailed(key, f"{key}-rsc", FAILURE_TEXT("not running")))
        elif kind in ("standby", "takeover"):
            which = self.rng.choice(("all", "local", "foreign", "failback"))
            self.feed(name, o.AdminRequest(kind, which, self.rng.randint(1, 10**6)))  # type: ignore[arg-type]


def run_world(seed: int, opts: Options, **kwargs: Any) -> NodeWorld:
    return NodeWorld(seed, opts, **kwargs).run()


def randomize_reasons(monkeypatch: Any, rng: random.Random) -> None:
    """Every reason text of the ownership core (start, stop, queued operations, wherever in hbd.core they
    are made) and of the agents' failures fed back becomes random text starting with `~`, drawn from `rng`
    (not the world's, so the histories stay the same)."""
    import sys

    def text() -> str:
        return "~" + "".join(rng.choice("abcdefghij klmnopqrstuvwxyz") for _ in range(rng.randint(0, 24)))

    def replacing(real: Any) -> Any:
        if hasattr(real, "_replace"):  # a NamedTuple (a queued operation)
            return lambda *a, **k: real(*a, **k)._replace(reason=text())
        return lambda *a, **k: dataclasses.replace(real(*a, **k), reason=text())

    patched = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith("hbd.core.") or name == "hbd.core.ownership_types":
            continue
        for attr in ("StartGroup", "StopGroup", "Queued"):
            real = getattr(module, attr, None)
            if isinstance(real, type) and "reason" in getattr(real, "__annotations__", {}):
                monkeypatch.setattr(module, attr, replacing(real))
                patched += 1
    assert patched >= 3, "no reason-carrying constructor found to randomize"
    monkeypatch.setitem(globals(), "FAILURE_TEXT", lambda _: text())
