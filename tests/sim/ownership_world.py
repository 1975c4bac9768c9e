"""A simulated two-node world for the ownership core: virtual clock, network, agents, crashes, fencing.

Membership is abstracted: a node declares its peer dead `deadtime` after it stopped hearing it (crash,
partition, shutdown) and sees it join again shortly after it is heard again. Messages between connected
nodes arrive in order after a random delay (Heartbeat retransmits lost packets, so loss shows as delay);
messages sent during a partition are delivered after it heals unless the receiver declared the sender dead
meanwhile. Ground truth (`actual`) is what really runs on each node: a group counts as running on a node
from the moment its start is ordered until its stop completes, and vanishes when the node is powered off.
"""
from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from typing import Any

from hbd.core.holdings import GroupInfo, Topology
from hbd.core.ownership import Ownership
from hbd.core.ownership_types import (
    AdminReply, AdminRequest, CommUp, Fence, Fenced, GroupStarted, GroupStopped, Log, PeerDied, PeerJoined, Policy,
    Probed, Received, Send, ShutdownComplete, ShutdownRequested, StartGroup, StopGroup, Tick,
)

NODES = ("n1", "n2")
DEADTIME = 3000
HBD_ONLY_FIELDS = ("hbdver", "hbd_groups", "hbd_ask", "hbd_rsc")  # what Heartbeat 3.0.6 neither sends nor reads


class Violation(AssertionError):
    pass


@dataclass
class Node:
    name: str
    core: Ownership | None = None  # None: powered off or daemon stopped
    actual: set[str] = field(default_factory=set)
    incarnation: int = 0
    sees_peer: bool = False  # this node's membership verdict about the peer
    log: list[str] = field(default_factory=list)


@dataclass
class Options:
    groups: int = 2
    fencing: bool = False
    auto_failback: str = "on"
    partitions: bool = True
    start_fail: float = 0.0
    stop_fail: float = 0.0
    fence_fail: float = 0.2
    disruptions: int = 4
    reorder: bool = False  # messages may overtake each other (several media, retransmissions)
    kill9: bool = True  # the daemon dies but its resources keep running until it restarts
    gap_ms: tuple[int, int] = (500, 9000)  # between two disruptions
    admin: bool = True
    heartbeat_peer_word_only: bool = False  # strip hbd's extensions: each core sees the other as Heartbeat


class World:
    def __init__(self, seed: int, opts: Options):
        self.rng = random.Random(seed)
        self.opts = opts
        self.now = 0
        self.seq = 0
        self.events: list[tuple[int, int, str, tuple[Any, ...]]] = []
        prefs = [NODES[i % 2] for i in range(opts.groups)]
        self.topology = Topology(tuple(GroupInfo(f"g{i + 1}", p) for i, p in enumerate(prefs)))
        self.policy = Policy(auto_failback=opts.auto_failback, fencing=opts.fencing,  # type: ignore[arg-type]
                             rqstdelay_ms=2000, standby_reply_ms=2000, stop_retries=2, stop_retry_ms=200,
                             fence_retry_ms=1000)
        self.nodes = {n: Node(n) for n in NODES}
        self.connected = True
        self.heal_epoch = 0
        self.replies: list[tuple[str, AdminReply]] = []
        self.requests: dict[int, tuple[str, str, frozenset[str], int]] = {}  # id -> kind, node, groups, peer inc
        self.violations: list[str] = []
        self.last_delivery: dict[str, int] = {}
        self.sent: dict[str, int] = {}

    # --- scheduling ---------------------------------------------------------------------------

    def at(self, t: int, kind: str, *args: Any) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, self.seq, kind, args))

    def other(self, name: str) -> str:
        return NODES[1 - NODES.index(name)]

    def up(self, name: str) -> bool:
        return self.nodes[name].core is not None

    # --- driving a core -----------------------------------------------------------------------

    def feed(self, name: str, event: Any) -> None:
        node = self.nodes[name]
        if node.core is None:
            return
        for action in node.core.handle(event, self.now):
            self.act(name, action)
        deadline = node.core.next_deadline(self.now) if node.core else None
        if deadline is not None:
            self.at(deadline, "tick", name, node.incarnation)

    def act(self, name: str, action: Any) -> None:
        node, peer_node = self.nodes[name], self.nodes[self.other(name)]
        inc = node.incarnation
        if isinstance(action, Send):
            self.transmit(name, dict(action.fields))
        elif isinstance(action, StartGroup):
            self.check_start(name, action.key)
            # The address probe of IPaddr2 refuses an address another host answers for: a group that still
            # runs on the peer (its daemon was killed) fails to start here instead of running twice.
            ok = self.rng.random() >= self.opts.start_fail and action.key not in peer_node.actual
            node.actual.add(action.key)
            self.at(self.now + self.rng.randint(10, 400), "started", name, inc, action.key, ok)
        elif isinstance(action, StopGroup):
            ok = self.rng.random() >= self.opts.stop_fail
            self.at(self.now + self.rng.randint(10, 300), "stopped", name, inc, action.key, ok)
        elif isinstance(action, Fence):
            ok = self.rng.random() >= self.opts.fence_fail
            self.at(self.now + self.rng.randint(100, 800), "fenced", name, inc, action.node, ok)
        elif isinstance(action, AdminReply):
            self.replies.append((name, action))
            self.check_reply(name, action)
        elif isinstance(action, ShutdownComplete):
            self.at(self.now + 1, "daemon_exit", name, inc)
        elif isinstance(action, Log):
            node.log.append(f"{self.now} {action.level}: {action.text}")

    def transmit(self, src: str, fields: dict[str, str]) -> None:
        dst = self.other(src)
        delay = self.rng.randint(1, 30)
        if self.rng.random() < 0.05:
            delay += self.rng.randint(250, 600)  # a lost packet, retransmitted
        self.sent[src] = self.sent.get(src, 0) + 1
        fields = {**fields, "seq": f"{self.sent[src]:x}"}
        if self.opts.heartbeat_peer_word_only:
            fields = {k: v for k, v in fields.items() if k not in HBD_ONLY_FIELDS}
        when = self.now + delay
        if not self.opts.reorder:
            when = max(when, self.last_delivery.get(src, 0) + 1)
            self.last_delivery[src] = when
        self.at(when, "deliver", src, self.nodes[src].incarnation, dst, self.nodes[dst].incarnation, fields)

    # --- invariants ---------------------------------------------------------------------------

    def fail(self, text: str) -> None:
        self.violations.append(f"t={self.now}: {text}")

    def check_start(self, name: str, key: str) -> None:
        node, peer = self.nodes[name], self.nodes[self.other(name)]
        core = node.core
        assert core is not None
        if key in node.actual:
            self.fail(f"{name} starts {key} which already runs there")
        peer_holds = peer.core is not None and key in peer.core.held
        if self.connected and node.sees_peer and not core.peer_view.gave_up and peer_holds:
            self.fail(f"{name} starts {key} while live connected peer {peer.name} holds it")
        if self.opts.fencing and peer.core is not None and not node.sees_peer and not core.peer_view.gave_up:
            if not core.peer_view.fenced:
                self.fail(f"{name} takes over {key} from {peer.name}, dead to it but unfenced")
        if self.opts.fencing or (not self.opts.partitions and not self.opts.stop_fail):
            # A killed daemon's leftovers are refused by the address probe (see act); a live one's are not.
            if key in peer.actual and peer.core is not None and peer.core.phase in ("running", "shutting_down"):
                self.fail(f"{key} would run on both nodes (no split brain was possible in this run)")

    def check_reply(self, name: str, reply: AdminReply) -> None:
        """hbd-standby / hbd-takeover succeed only if the groups really moved (issue 9 bug 1)."""
        kind, asker, groups, peer_inc = self.requests.pop(reply.request_id, ("", "", frozenset(), 0))
        node, peer = self.nodes[name], self.nodes[self.other(name)]
        if not reply.ok or asker != name or node.core is None:
            return
        if kind == "takeover":
            left = [k for k in groups if k not in node.core.held]
            if left:
                self.fail(f"{name}: takeover reported done ({reply.text}) but {left} are not held here")
        elif kind == "standby" and self.opts.heartbeat_peer_word_only:
            return  # a Heartbeat taker's `done` carries no holdings: the giver cannot tell (see standby.py)
        elif kind == "standby" and peer.core is not None and peer.incarnation == peer_inc and self.connected:
            if peer.core.phase == "running":
                left = [k for k in groups if k not in peer.core.held]
                if left:
                    self.fail(f"{name}: standby reported done ({reply.text}) but {peer.name} does not hold {left}")

    # --- the run ------------------------------------------------------------------------------

    def boot(self, name: str, delay_commup: bool = True) -> None:
        node = self.nodes[name]
        node.incarnation += 1
        node.core = Ownership(name, self.other(name), self.topology, self.policy)
        node.sees_peer = False
        self.feed(name, Probed(frozenset(node.actual)))
        peer = self.nodes[self.other(name)]
        if peer.core is not None and self.connected:
            self.at(self.now + self.rng.randint(50, 300), "commup", name, node.incarnation)
        else:
            self.at(self.now + 2 * DEADTIME, "commup", name, node.incarnation)

    def schedule_disruptions(self) -> None:
        t = 6000
        for _ in range(self.opts.disruptions):
            t += self.rng.randint(*self.opts.gap_ms)
            kinds = ["crash", "shutdown", "standby", "takeover"] + (["kill9"] if self.opts.kill9 else [])
            if self.opts.partitions:
                kinds.append("partition")
            if not self.opts.admin:
                kinds = [k for k in kinds if k not in ("standby", "takeover")]
            self.at(t, "disrupt", self.rng.choice(kinds), self.rng.choice(NODES))
        self.quiet_from = t + 12000

    def run(self, until: int = 60_000) -> None:
        simultaneous = self.rng.random() < 0.5
        self.boot("n1")
        if simultaneous:
            self.boot("n2")
        else:
            self.at(self.rng.randint(500, 8000), "power_on", "n2")
        self.schedule_disruptions()
        until = max(until, self.quiet_from + 30_000)
        steps, budget = 0, 20_000
        while self.events and steps < budget:
            t, _, kind, args = heapq.heappop(self.events)
            if t > until:
                break
            self.now = t
            steps += 1
            getattr(self, "ev_" + kind)(*args)
        if steps >= budget:
            self.fail(f"{budget} events without reaching t={until}: a livelock")
        self.check_converged()

    def check_converged(self) -> None:
        if not all(self.up(n) for n in NODES) or not self.connected:
            return
        if self.opts.start_fail or self.opts.stop_fail:
            return
        for key in self.topology.keys:
            holders = [n for n in NODES if key in self.nodes[n].core.held]  # type: ignore[union-attr]
            if len(holders) != 1:
                self.fail(f"after the quiet period {key} is held by {holders or 'nobody'}")
            running = [n for n in NODES if key in self.nodes[n].actual]
            if len(running) != 1:
                self.fail(f"after the quiet period {key} runs on {running or 'nobody'}")

    # --- event handlers -----------------------------------------------------------------------

    def ev_tick(self, name: str, inc: int) -> None:
        if self.nodes[name].incarnation == inc:
            self.feed(name, Tick())

    def ev_commup(self, name: str, inc: int) -> None:
        node, peer = self.nodes[name], self.nodes[self.other(name)]
        if node.incarnation != inc or node.core is None:
            return
        alive = peer.core is not None and self.connected
        node.sees_peer = alive
        if alive and peer.core is not None and peer.core.phase == "running":
            # The peer hears a new generation: a join after death, or a restart within deadtime.
            peer.sees_peer = True
            self.feed(peer.name, PeerJoined(name))
        self.feed(name, CommUp(alive))

    def ev_power_on(self, name: str) -> None:
        if not self.up(name):
            self.boot(name)

    def ev_deliver(self, src: str, inc: int, dst: str, dst_inc: int, fields: dict[str, str]) -> None:
        s, d = self.nodes[src], self.nodes[dst]
        if s.incarnation != inc or d.core is None or not d.sees_peer:
            return
        if d.incarnation != dst_inc:
            return  # sent before the receiver's daemon started: it cannot ask for it again
        if not self.connected:
            when = max(self.now + 500, self.last_delivery.get(src, 0) + 1)  # held until the partition heals
            self.last_delivery[src] = when
            self.at(when, "deliver", src, inc, dst, dst_inc, fields)
            return
        self.feed(dst, Received(src, fields))

    def ev_started(self, name: str, inc: int, key: str, ok: bool) -> None:
        node = self.nodes[name]
        if node.incarnation != inc:
            return
        if not ok:
            node.actual.discard(key)
        self.feed(name, GroupStarted(key, ok, f"{key}:resource"))

    def ev_stopped(self, name: str, inc: int, key: str, ok: bool) -> None:
        node = self.nodes[name]
        if node.incarnation != inc:
            return
        if ok:
            node.actual.discard(key)
        self.feed(name, GroupStopped(key, ok))

    def ev_fenced(self, name: str, inc: int, target: str, ok: bool) -> None:
        if self.nodes[name].incarnation != inc:
            return
        if ok:
            self.power_off(target)
            self.at(self.now + self.rng.randint(3000, 8000), "power_on", target)
        self.feed(name, Fenced(target, ok))

    def ev_daemon_exit(self, name: str, inc: int) -> None:
        node = self.nodes[name]
        if node.incarnation == inc:
            node.core = None
            self.lose_peer(self.other(name))
            self.at(self.now + self.rng.randint(1000, 6000), "power_on", name)

    def ev_declare_dead(self, name: str, inc: int, epoch: int) -> None:
        node = self.nodes[name]
        if node.incarnation != inc or node.core is None or not node.sees_peer:
            return
        peer = self.nodes[self.other(name)]
        if peer.core is not None and self.connected:
            return  # heard again in time
        node.sees_peer = False
        self.feed(name, PeerDied(peer.name))

    def ev_heal(self) -> None:
        self.connected = True
        self.heal_epoch += 1
        for name in NODES:
            node, peer = self.nodes[name], self.nodes[self.other(name)]
            if node.core is not None and peer.core is not None and not node.sees_peer and node.core.phase == "running":
                self.at(self.now + self.rng.randint(5, 200), "rejoin", name, node.incarnation)

    def ev_rejoin(self, name: str, inc: int) -> None:
        node, peer = self.nodes[name], self.nodes[self.other(name)]
        if node.incarnation != inc or node.core is None or peer.core is None or not self.connected:
            return
        if not node.sees_peer:
            node.sees_peer = True
            self.feed(name, PeerJoined(peer.name, after_partition=True))

    def lose_peer(self, observer: str) -> None:
        node = self.nodes[observer]
        if node.core is not None and node.sees_peer:
            self.at(self.now + DEADTIME + self.rng.randint(-250, 250), "declare_dead", observer, node.incarnation,
                    self.heal_epoch)

    def power_off(self, name: str) -> None:
        node = self.nodes[name]
        node.core = None
        node.actual.clear()
        node.incarnation += 1
        self.lose_peer(self.other(name))

    def ev_disrupt(self, kind: str, name: str) -> None:
        node = self.nodes[name]
        if kind == "crash" and node.core is not None:
            self.power_off(name)
            self.at(self.now + self.rng.randint(2000, 9000), "power_on", name)
        elif kind == "kill9" and node.core is not None:
            node.core = None
            node.incarnation += 1
            self.lose_peer(self.other(name))
            self.at(self.now + self.rng.randint(500, 8000), "power_on", name)
        elif kind == "shutdown" and node.core is not None:
            self.feed(name, ShutdownRequested())
        elif kind in ("standby", "takeover") and node.core is not None:
            which, rid = self.rng.choice(["all", "local", "foreign", "failback"]), self.rng.randint(1, 10**6)
            if kind == "takeover":
                groups = self.topology.resolve("local" if which == "failback" else which, name)
            else:
                groups = self.topology.resolve(which, name) & node.core.held
            self.requests[rid] = (kind, name, groups, self.nodes[self.other(name)].incarnation)
            self.feed(name, AdminRequest(kind, which, rid))  # type: ignore[arg-type]
        elif kind == "partition" and self.connected:
            self.connected = False
            for n in NODES:
                self.lose_peer(n)
            self.at(self.now + self.rng.randint(500, 9000), "heal")


def run_world(seed: int, opts: Options) -> World:
    world = World(seed, opts)
    world.run()
    return world
