"""The daemon's group runner: plan order, a failed start undoes exactly what it touched, stops go on past a
failure, and the start-up probe counts a group with any resource running as held."""
from __future__ import annotations

from daemon_fakes import World, group

from hbd.runtime.groups import GroupRunner


def runner(world: World) -> GroupRunner:
    roots = {"ip1": group("ip1", "disk", "svc"), "ip2": group("ip2", "web")}
    return GroupRunner(roots, {}, resolve=world.resolve)


def test_start_runs_left_to_right_and_stop_right_to_left() -> None:
    world = World()
    r = runner(world)
    assert r.start("ip1").ok
    assert world.journal == ["ip1 start", "disk start", "svc start"]
    world.journal.clear()
    assert r.stop("ip1").ok
    assert world.journal == ["svc stop", "disk stop", "ip1 stop"]
    assert world.up == set()


def test_failed_start_stops_in_reverse_what_it_touched_and_names_the_resource() -> None:
    world = World(fail={"disk start"})
    result = runner(world).start("ip1")
    assert not result.ok
    assert result.reason.startswith("disk start failed: disk refused to start")
    assert world.journal == ["ip1 start", "disk start", "disk stop", "ip1 stop"]  # svc never touched
    assert world.up == set()


def test_failed_stop_goes_on_and_reports_the_first_failure() -> None:
    world = World(up={"ip1", "disk", "svc"}, fail={"svc stop"})
    result = runner(world).stop("ip1")
    assert not result.ok and result.reason.startswith("svc stop failed")
    assert world.journal == ["svc stop", "disk stop", "ip1 stop"]


def test_probe_counts_a_group_with_any_resource_running() -> None:
    world = World(up={"svc"})  # only the last resource of ip1 runs (a daemon killed mid-start)
    assert runner(world).probe() == frozenset({"ip1"})
    assert runner(World()).probe() == frozenset()


def test_a_running_script_resource_is_not_started_again_builtins_are_not_asked() -> None:
    world = World(up={"script1"})
    r = GroupRunner({"ip1": group("ip1", "script1", "script2")}, {}, resolve=world.resolve)
    assert r.start("ip1").ok
    assert world.journal == ["ip1 start", "script1 status", "script2 status", "script2 start"]


def test_a_start_after_a_confirmed_release_skips_the_duplicate_address_probe() -> None:
    from hbd.agents.registry import Registry
    from hbd.config.model import ResourceNode
    from hbd.runtime.groups import released_resolver

    node = ResourceNode(type="IPaddr2", primary="IPaddr2::192.0.2.50/24/eth0", attrs=(("args", "192.0.2.50/24/eth0"),))
    assert Registry().resolve(node).spec.probe_ms > 0  # type: ignore[attr-defined]
    assert released_resolver(Registry())(node).spec.probe_ms == 0  # type: ignore[attr-defined]
    other = ResourceNode(type="group", primary="g")
    assert released_resolver(Registry())(other).kind == "container"
