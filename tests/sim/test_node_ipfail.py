"""Heartbeat's ipfail rule in the node core (hbd/core/node.py, hbd/core/ipfail.py): two node cores over an
instant wire (the isolation test's world), ping verdicts fed by hand. The node reaching more ping nodes gets
the groups from the worse-connected holder by the standby exchange, only after the counts differed for
IPFAIL_ROUNDS keepalives; flapping replies and equal counts move nothing."""
from __future__ import annotations

import pytest

from hbd.core import ipfail
from hbd.core import ownership_types as o
from hbd.core.holdings import GroupInfo, Topology
from hbd.core.placement import NodeState, PreferredNode, Situation
from hbd.core.resource_messages import ping_count
from test_node_isolation import TIMING, World, held

BOTH = frozenset({"192.0.2.251", "192.0.2.252"})
ONE = frozenset({"192.0.2.251"})
HOLD_MS = ipfail.IPFAIL_ROUNDS * TIMING.keepalive_ms


def settled_world() -> World:
    world = World(ping_nodes=2)
    for name in ("n1", "n2"):
        world.ping(name, BOTH)
    world.run_until(3000)
    assert held(world, "n1") == {"g1"} and not held(world, "n2")
    return world


def starts(world: World, name: str, since: int) -> list[int]:
    return [t for t, a in world.out[name] if isinstance(a, o.StartGroup) and t >= since]


def stops(world: World, name: str, since: int) -> list[int]:
    return [t for t, a in world.out[name] if isinstance(a, o.StopGroup) and t >= since]


def test_worse_connected_holder_hands_over_after_the_hold_time() -> None:
    world = settled_world()
    cut = world.now
    world.ping("n1", ONE)  # n1 reaches 1 ping node, n2 still 2
    world.run_until(cut + HOLD_MS - 10)
    assert held(world, "n1") == {"g1"}, "moved before the counts differed for the hold time"
    world.run_until(cut + HOLD_MS + 2000)
    assert held(world, "n2") == {"g1"} and not held(world, "n1")
    stopped, started = stops(world, "n1", cut), starts(world, "n2", cut)
    assert stopped and started and stopped[0] >= cut + HOLD_MS and started[0] >= stopped[0]
    # it stays there while n1 stays worse connected (no failback to the preferred node)
    world.run_until(world.now + 5000)
    assert held(world, "n2") == {"g1"} and len(starts(world, "n2", cut)) == 1


def test_flapping_ping_replies_move_nothing() -> None:
    world = settled_world()
    start = world.now
    for i in range(40):  # the ping node answers every other round: shorter than the hold time each way
        world.ping("n1", ONE if i % 2 == 0 else BOTH)
        world.run_until(world.now + HOLD_MS // 2)
    world.run_until(world.now + 2000)
    assert held(world, "n1") == {"g1"} and not stops(world, "n1", start)


def test_equal_counts_keep_todays_placement() -> None:
    world = settled_world()
    start = world.now
    world.ping("n1", ONE)
    world.ping("n2", ONE)
    world.run_until(start + 5000)
    assert held(world, "n1") == {"g1"} and not stops(world, "n1", start)


def test_counts_equal_again_gives_auto_failback_its_say() -> None:
    world = settled_world()
    world.ping("n1", ONE)
    world.run_until(world.now + HOLD_MS + 2000)
    assert held(world, "n2") == {"g1"}
    world.ping("n1", BOTH)  # equal again: today's placement (auto_failback on: back to n1)
    world.run_until(world.now + HOLD_MS + 2000)
    assert held(world, "n1") == {"g1"} and not held(world, "n2")


def test_peer_without_a_count_is_never_compared() -> None:
    world = World(ping_nodes=0)  # no isolation rule; n1 alone gets verdicts
    world.run_until(3000)
    world.ping("n1", BOTH)
    world.ping("n1", ONE)  # n2 sends no hbd_ping (as a Heartbeat 3.0.6 peer): nothing to compare with
    world.run_until(world.now + 5000)
    assert held(world, "n1") == {"g1"}
    assert world.nodes["n2"].connectivity.mine is None
    assert world.nodes["n1"].connectivity.peer is None


def test_the_count_is_carried_in_resource_messages() -> None:
    assert ping_count({"t": "resource", "hbd_ping": "2"}) == 2
    assert ping_count({"t": "starting", "hbd_ping": "0"}) == 0
    assert ping_count({"t": "resource"}) is None
    assert ping_count({"t": "resource", "hbd_ping": "-1"}) is None
    assert ping_count({"t": "status", "hbd_ping": "2"}) is None


@pytest.mark.parametrize("counts, expected", [({}, "n1"), ({"n1": 2, "n2": 2}, "n1"), ({"n1": 1, "n2": 2}, "n2"),
                                              ({"n1": 2, "n2": 1}, "n1")])
def test_placement_prefers_the_better_connected_node(counts: dict[str, int], expected: str) -> None:
    placement = ipfail.BetterConnected(PreferredNode(auto_failback=True), counts)
    topology = Topology((GroupInfo("g1", "n1"),))
    for holders in ({}, {"g1": frozenset({"n1"})}, {"g1": frozenset({"n2"})}):
        s = Situation((NodeState("n1", True), NodeState("n2", True)), topology.groups, holders)
        assert placement.place(s)["g1"].holder == expected
    dead_peer = Situation((NodeState("n1", True), NodeState("n2", False)), topology.groups, {})
    assert placement.place(dead_peer)["g1"].holder == "n1"  # a dead node never gets a group
