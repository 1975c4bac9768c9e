"""The isolated-node rule of the node core (hbd/core/node.py): two node cores over an instant wire; the ping
monitor's reports are fed by hand. A node holding groups that hears neither a ping node nor its peer (silent
past warntime) gives every group up and restarts; while no ping node answers it takes nothing over."""
from __future__ import annotations

from typing import Any

from hbd.config.model import Timing
from hbd.core import membership_events as m
from hbd.core import node_events as n
from hbd.core import ownership_types as o
from hbd.core.holdings import GroupInfo, Topology
from hbd.core.membership import MembershipConfig
from hbd.core.messages import Message, Sender, with_control_fields
from hbd.core.node import NodeConfig, NodeCore

TIMING = Timing(keepalive_ms=100, deadtime_ms=1000, warntime_ms=500, initdead_ms=2000)
TOPOLOGY = Topology((GroupInfo("g1", "n1"),))
PING = frozenset({"192.0.2.254"})


class World:
    """Two node cores; `cut` stops a node's packets both ways (all its media); agents succeed at once."""

    def __init__(self, ping_nodes: int = 1):
        self.now = 0
        self.nodes: dict[str, NodeCore] = {}
        for name, peer in (("n1", "n2"), ("n2", "n1")):
            config = NodeConfig(MembershipConfig(name, ("n1", "n2"), TIMING), peer, TOPOLOGY, o.Policy(),
                                ping_nodes=ping_nodes)
            self.nodes[name] = NodeCore(config, 0, generation=1)
        self.cut: set[str] = set()
        self.out: dict[str, list[tuple[int, Any]]] = {"n1": [], "n2": []}
        self.results: list[tuple[str, o.Event]] = []
        for name, node in self.nodes.items():
            self.carry(name, node.start(0))
            if ping_nodes:
                self.carry(name, node.handle(n.PingReachability(PING), 0))
            self.carry(name, node.handle(o.Probed(frozenset()), 0))

    def carry(self, name: str, actions: list[Any]) -> None:
        for action in actions:
            self.out[name].append((self.now, action))
            if isinstance(action, m.Send):
                fields = with_control_fields(action.body, Sender(name, b"u" * 16, 1, 3), seq=action.seq,
                                             ts=0, load=None, dest=action.dest)
                for receiver in self.nodes:
                    if receiver == name or not self.cut & {name, receiver}:
                        self.carry(receiver, self.nodes[receiver].handle(n.Heard(Message(tuple(fields)), "eth0"),
                                                                         self.now))
            elif isinstance(action, o.StartGroup):
                self.results.append((name, o.GroupStarted(action.key, True)))
            elif isinstance(action, o.StopGroup):
                self.results.append((name, o.GroupStopped(action.key, True)))

    def ping(self, name: str, reachable: frozenset[str]) -> None:
        self.carry(name, self.nodes[name].handle(n.PingReachability(reachable), self.now))

    def run_until(self, end: int) -> None:
        for _ in range(100_000):
            while self.results:
                name, result = self.results.pop(0)
                self.carry(name, self.nodes[name].handle(result, self.now))
            name, node = min(self.nodes.items(), key=lambda kv: kv[1].next_deadline())
            t = node.next_deadline()
            if t > end:
                self.now = end
                return
            self.now = t
            self.carry(name, node.handle(n.Tick(), t))
        raise AssertionError("the world did not reach its end time")

    def first(self, name: str, kind: type, since: int = 0) -> tuple[int, Any] | None:
        return next(((t, a) for t, a in self.out[name] if isinstance(a, kind) and t >= since), None)


def held(world: World, name: str) -> frozenset[str]:
    return world.nodes[name].ownership.held


def test_an_isolated_holder_releases_within_warntime_after_its_last_peer_packet_and_the_survivor_takes_over() -> None:
    world = World()
    world.run_until(6000)
    assert held(world, "n1") == {"g1"} and held(world, "n2") == frozenset()
    cut_at = world.now
    world.cut.add("n1")  # every medium of n1 and its path to the ping node cut
    world.ping("n1", frozenset())  # the monitor: no ping node answered within deadping
    world.run_until(cut_at + 3000)
    restart = world.first("n1", n.Restart, cut_at)
    assert restart is not None and restart[1] == n.Restart(2000, isolated=True)
    # the release starts warntime after the peer's last packet (within one keepalive of the cut)
    assert cut_at + TIMING.warntime_ms <= restart[0] <= cut_at + TIMING.keepalive_ms + TIMING.warntime_ms + 1
    stop = world.first("n1", o.StopGroup, cut_at)
    assert stop is not None and stop[1].key == "g1"
    start = world.first("n2", o.StartGroup, cut_at)
    assert start is not None and start[1].key == "g1"
    assert stop[0] < start[0]  # released before the survivor's takeover at deadtime
    assert held(world, "n1") == frozenset() and held(world, "n2") == {"g1"}


def test_a_node_that_still_reaches_a_ping_node_keeps_its_groups_when_the_peer_goes_silent() -> None:
    world = World()
    world.run_until(6000)
    world.cut.add("n2")
    world.run_until(world.now + 3000)
    assert world.first("n1", n.Restart) is None and held(world, "n1") == {"g1"}


def test_without_ping_nodes_there_is_no_isolation_rule() -> None:
    world = World(ping_nodes=0)
    world.run_until(6000)
    world.cut.add("n1")
    world.run_until(world.now + 3000)
    assert world.first("n1", n.Restart) is None and held(world, "n1") == {"g1"}
    assert held(world, "n2") == {"g1"}  # both: what the isolation rule is for


def test_no_ping_node_and_the_peer_alive_is_no_isolation() -> None:
    world = World()
    world.run_until(6000)
    world.ping("n1", frozenset())  # the ping node is down for n1, the peer is heard
    world.run_until(world.now + 3000)
    assert world.first("n1", n.Restart) is None
    assert held(world, "n2") == {"g1"}  # no isolation; ipfail: n2 reaches more ping nodes (test_node_ipfail.py)


def test_a_cut_off_node_takes_nothing_over_until_a_ping_node_answers() -> None:
    world = World()
    world.run_until(6000)
    world.ping("n2", frozenset())  # n2 reaches no ping node
    cut_at = world.now
    world.cut.add("n1")  # and n1 vanishes from n2's media too
    world.run_until(cut_at + 3000)
    assert world.first("n2", o.StartGroup, cut_at) is None and held(world, "n2") == frozenset()
    world.ping("n2", PING)
    world.run_until(world.now + 500)
    start = world.first("n2", o.StartGroup, cut_at)
    assert start is not None and start[1].key == "g1"


def test_a_held_back_death_and_the_peers_return_cancel_out() -> None:
    world = World()
    world.run_until(6000)
    world.ping("n2", frozenset())
    world.cut.add("n1")
    world.run_until(world.now + 2000)
    world.cut.clear()
    world.run_until(world.now + 2000)
    world.ping("n2", PING)
    world.run_until(world.now + 1000)
    assert world.first("n2", o.StartGroup) is None and held(world, "n1") == {"g1"}
