"""The daemon's group runner: plan order, a failed start undoes exactly what it touched, stops go on past a
failure, and the start-up probe asks every resource, telling a partly running group from a running one."""
from __future__ import annotations

from daemon_fakes import World, group

from hbd.runtime.groups import GroupRunner, ProbeResult


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


def test_probe_asks_every_resource_and_tells_partly_from_fully_running() -> None:
    world = World(up={"ip1", "disk", "svc", "ip2", "web"})
    assert runner(world).probe() == ProbeResult(frozenset({"ip1", "ip2"}))
    world = World(up={"ip1", "ip2", "web"})  # disk and svc died (or was added to haresources) behind a running address
    r = runner(world)
    assert r.probe() == ProbeResult(frozenset({"ip2"}), frozenset({"ip1"}))
    assert world.journal[:3] == ["ip1 status", "disk status", "svc status"]  # not stopped at the first one
    assert r.resource_states()["ip1"] == [("ip1", "running"), ("disk", "stopped"), ("svc", "stopped")]
    assert runner(World()).probe() == ProbeResult(frozenset())


def test_resource_states_follow_starts_failures_and_stops() -> None:
    world = World(fail={"svc start"})
    r = runner(world)
    assert not r.start("ip1").ok
    assert r.resource_states()["ip1"] == [("ip1", "stopped"), ("disk", "stopped"), ("svc", "stopped")]
    world.fail.clear()
    assert r.start("ip1").ok
    assert r.resource_states()["ip1"] == [("ip1", "running"), ("disk", "running"), ("svc", "running")]


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
