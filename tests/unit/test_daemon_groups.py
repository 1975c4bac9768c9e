"""The daemon's group runner: plan order, a failed start undoes exactly what it touched, stops go on past a
failure, and the start-up probe asks every resource, telling a partly running group from a running one."""
from __future__ import annotations

import daemon_fakes
import pytest
from daemon_fakes import World, group

from hbd.runtime.groups import GroupRunner, ProbeResult


def unverified(journal: list[str]) -> list[str]:
    """The journal without the status call that verifies each stop (tested on its own below)."""
    return [c for i, c in enumerate(journal)
            if not (c.endswith(" status") and i and journal[i - 1] == c.replace(" status", " stop"))]


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
    assert world.journal == ["svc stop", "svc status", "disk stop", "disk status", "ip1 stop", "ip1 status"]
    assert world.up == set()


def test_failed_start_stops_in_reverse_what_it_touched_and_names_the_resource() -> None:
    world = World(fail={"disk start"})
    result = runner(world).start("ip1")
    assert not result.ok
    assert result.reason.startswith("disk start failed: disk refused to start")
    assert unverified(world.journal) == ["ip1 start", "disk start", "disk stop", "ip1 stop"]  # svc never touched
    assert world.up == set()


def test_failed_stop_goes_on_and_reports_the_first_failure() -> None:
    world = World(up={"ip1", "disk", "svc"}, fail={"svc stop"})
    result = runner(world).stop("ip1")
    assert not result.ok and result.reason.startswith("svc stop failed")
    assert unverified(world.journal) == ["svc stop", "disk stop", "ip1 stop"]


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
    """The start option reaches the agent, which decides what it skips (IPaddr2: its probe)."""
    from hbd.agents.base import Deadline, StartOptions

    seen: list[StartOptions] = []

    class Remembering(daemon_fakes.FakeAgent):
        def start_with(self, deadline: Deadline, options: StartOptions) -> daemon_fakes.AgentResult:
            seen.append(options)
            return super().start_with(deadline, options)

    world = World()
    r = GroupRunner({"ip1": group("ip1", "disk")}, {}, resolve=lambda node: (
        world.resolve(node) if node.type == "group" else Remembering(world, node.primary)))
    assert r.start("ip1", StartOptions(peer_released=True)).ok
    assert r.start("ip1").ok
    assert seen == [StartOptions(True), StartOptions(True), StartOptions(False), StartOptions(False)]


def test_ipaddr2_skips_its_probe_only_when_the_peer_released_the_address(monkeypatch: pytest.MonkeyPatch) -> None:
    from hbd.agents import ipaddr2
    from hbd.agents.base import Deadline, StartOptions
    from hbd.agents.registry import Registry

    agent = Registry().for_haresource("IPaddr2", ("192.0.2.50/24/eth0",))
    assert isinstance(agent, ipaddr2.IPaddr2) and agent.spec.probe_ms > 0 and agent.claims_addresses
    probes: list[bool] = []
    monkeypatch.setattr(agent, "_start", lambda deadline, probe: probes.append(probe))
    agent.start_with(Deadline(1), StartOptions(peer_released=True))
    agent.start_with(Deadline(1), StartOptions())
    agent.start(Deadline(1))
    assert probes == [False, True, True]


def test_a_stop_is_verified_by_status_and_never_a_silent_success() -> None:
    world = World(up={"ip1", "disk"})

    class Lying(daemon_fakes.FakeAgent):  # says stopped, keeps running
        def stop(self, deadline: daemon_fakes.Deadline) -> daemon_fakes.AgentResult:
            self.world.journal.append(f"{self.name} stop")
            return daemon_fakes.stopped("stop")

    r = GroupRunner({"ip1": group("ip1", "disk")}, {}, resolve=lambda node: (
        Lying(world, node.primary) if node.primary == "disk" else world.resolve(node)))
    result = r.stop("ip1")
    assert not result.ok and "disk stop returned success but status says running" in result.reason
    assert world.journal == ["disk stop", "disk status", "ip1 stop", "ip1 status"]
    assert r.resource_states()["ip1"] == [("disk", "stop failed"), ("ip1", "stopped")]


def test_a_failed_stop_is_forced_and_verified_again() -> None:
    world = World(up={"ip1", "disk"}, fail={"disk stop"})

    class Forceable(daemon_fakes.FakeAgent):
        def force_stop(self, timeout_s: float | None = None) -> daemon_fakes.AgentResult | None:
            self.world.journal.append(f"{self.name} force_stop")
            self.world.up.discard(self.name)
            return daemon_fakes.stopped("stop", "killed holders")

    r = GroupRunner({"ip1": group("ip1", "disk")}, {}, resolve=lambda node: (
        Forceable(world, node.primary) if node.primary == "disk" else world.resolve(node)))
    assert r.stop("ip1").ok
    assert world.journal == ["disk stop", "disk status", "disk force_stop", "disk status", "ip1 stop", "ip1 status"]


def test_a_restart_from_a_resource_touches_it_and_those_after_it_only() -> None:
    # A restart in place after a failed check (monitor_lane.py): the resources before the failed one keep
    # running (the address answers on throughout); a name the group does not have restarts all of it.
    world = World(up={"ip1", "disk", "svc"})
    r = runner(world)
    assert r.stop("ip1", "disk").ok and r.start("ip1", from_resource="disk").ok
    assert unverified(world.journal) == ["svc stop", "disk stop", "disk start", "svc start"]
    world.journal.clear()
    assert r.stop("ip1", "svc").ok and r.start("ip1", from_resource="svc").ok
    assert unverified(world.journal) == ["svc stop", "svc start"]
    world.journal.clear()
    assert r.stop("ip1", "no-such").ok and r.start("ip1", from_resource="no-such").ok
    assert unverified(world.journal) == ["svc stop", "disk stop", "ip1 stop", "ip1 start", "disk start", "svc start"]
    assert world.up == {"ip1", "disk", "svc"}
