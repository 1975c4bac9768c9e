"""The VIP carrier rule in the node core (hbd/core/node.py, hbd/core/link_rule.py): two node cores over an
instant wire (the isolation test's world), the link monitor's reports fed by hand. The holder that loses
carrier on its group's VIP interface hands the group to the peer that reported carrier there, by the
standby exchange (stopped before it starts there, never held twice); a peer without carrier, or one that
does not report, is never handed it; carrier back counts after the hold, then auto_failback decides."""
from __future__ import annotations

from hbd.core import link_rule as lr
from hbd.core import membership_events as m
from hbd.core import ownership_types as o
from hbd.core import recovery as r
from test_node_isolation import TIMING, World, held

UP = lr.VipCarrier(frozenset())
DOWN = lr.VipCarrier(frozenset({"g1"}), ("eth0",))
HOLD_MS = lr.LINK_UP_ROUNDS * TIMING.keepalive_ms


def carrier(world: World, name: str, report: lr.VipCarrier) -> None:
    world.carry(name, world.nodes[name].handle(report, world.now))


def settled(reporting: tuple[str, ...] = ("n1", "n2")) -> World:
    world = World(ping_nodes=0)
    for name in reporting:
        carrier(world, name, UP)
    world.run_until(3000)
    assert held(world, "n1") == {"g1"} and not held(world, "n2")
    return world


def run_watched(world: World, until: int) -> None:
    """Run in small steps: the group is never held by both nodes."""
    while world.now < until:
        world.run_until(min(until, world.now + 20))
        assert not (held(world, "n1") & held(world, "n2")), f"held twice at {world.now}"


def times(world: World, name: str, kind: type, since: int) -> list[int]:
    return [t for t, a in world.out[name] if isinstance(a, kind) and t >= since]


def logs(world: World, name: str) -> list[str]:
    return [a.text for _, a in world.out[name] if isinstance(a, (o.Log, m.Log))]


def test_the_holder_without_carrier_hands_the_group_to_the_peer_with_carrier() -> None:
    world = settled()
    cut = world.now
    carrier(world, "n1", DOWN)
    run_watched(world, cut + 2000)
    assert held(world, "n2") == {"g1"} and not held(world, "n1")
    stopped, started = times(world, "n1", o.StopGroup, cut), times(world, "n2", o.StartGroup, cut)
    assert stopped and started and started[0] >= stopped[0]
    assert any("link: group g1: no carrier on its VIP interface here (eth0)" in text for text in logs(world, "n1"))
    run_watched(world, world.now + 5000)  # no failback onto the dead link (auto_failback is on)
    assert held(world, "n2") == {"g1"} and len(times(world, "n2", o.StartGroup, cut)) == 1


def test_carrier_back_counts_after_the_hold_then_auto_failback_returns_the_group() -> None:
    world = settled()
    carrier(world, "n1", DOWN)
    run_watched(world, world.now + 2000)
    assert held(world, "n2") == {"g1"}
    back = world.now
    carrier(world, "n1", UP)
    run_watched(world, back + HOLD_MS - 10)
    assert held(world, "n2") == {"g1"}, "moved before the carrier held for the hold time"
    run_watched(world, back + HOLD_MS + 2000)
    assert held(world, "n1") == {"g1"} and not held(world, "n2")


def test_a_flapping_cable_does_not_pull_the_group_back() -> None:
    world = settled()
    carrier(world, "n1", DOWN)
    run_watched(world, world.now + 2000)
    since = world.now
    for _ in range(20):  # up for less than the hold, then down again
        carrier(world, "n1", UP)
        run_watched(world, world.now + HOLD_MS // 2)
        carrier(world, "n1", DOWN)
        run_watched(world, world.now + HOLD_MS // 2)
    assert held(world, "n2") == {"g1"} and not times(world, "n2", o.StopGroup, since)


def test_no_carrier_on_the_peer_either_keeps_the_group() -> None:
    world = settled()
    carrier(world, "n2", DOWN)
    run_watched(world, world.now + 500)
    start = world.now
    carrier(world, "n1", DOWN)
    run_watched(world, start + 3000)
    assert held(world, "n1") == {"g1"} and not times(world, "n1", o.StopGroup, start)
    assert any("n2 has no carrier there either: keeping it" in text for text in logs(world, "n1"))


def test_a_peer_that_does_not_report_its_links_is_never_handed_the_group() -> None:
    world = settled(reporting=("n1",))  # n2 sends no hbd_link (a Heartbeat 3.0.6 peer)
    start = world.now
    carrier(world, "n1", DOWN)
    run_watched(world, start + 3000)
    assert held(world, "n1") == {"g1"} and not times(world, "n1", o.StopGroup, start)


def test_a_node_without_carrier_does_not_take_its_preferred_group_at_start() -> None:
    world = World(ping_nodes=0)
    carrier(world, "n1", DOWN)  # n1's VIP interface is down before it starts anything
    carrier(world, "n2", UP)
    run_watched(world, 6000)
    assert held(world, "n2") == {"g1"} and not held(world, "n1")


def test_monitoring_does_not_hand_a_failed_group_to_a_peer_without_carrier() -> None:
    world = World(ping_nodes=0)
    for name in ("n1", "n2"):
        carrier(world, name, UP)
    world.run_until(3000)
    carrier(world, "n2", DOWN)
    run_watched(world, world.now + 500)
    core = world.nodes["n1"]
    core.recovery = r.RecoveryCore({}, r.GroupRecovery(r.RecoveryPolicy(r.Recovery.RELOCATE)))
    out = core.handle(r.CheckFailed("g1", "lsb::db", "stopped"), world.now)  # relocate: to the peer at once
    world.carry("n1", out)
    assert r.RestartGroup("g1", 0) in out  # restarted in place instead
    assert not any(isinstance(a, o.Log) and "Giving up resource group" in a.text for a in out)
    run_watched(world, world.now + 2000)
    assert held(world, "n1") == {"g1"}
