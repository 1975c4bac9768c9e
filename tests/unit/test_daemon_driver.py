"""The ownership driver on a real asyncio loop with in-memory agents: the probe comes first, group work
runs off the loop (the loop keeps running while an agent blocks), results flow back to the core."""
from __future__ import annotations

import asyncio
import threading

from daemon_fakes import World, group

from hbd.core import ownership_types as o
from hbd.core.holdings import GroupInfo, Topology
from hbd.core.ownership import Ownership
from hbd.runtime.groups import GroupRunner
from hbd.runtime.ownership_driver import OwnershipDriver

TOPOLOGY = Topology((GroupInfo("ip1", "n1"),))


def make(world: World, sent: list[dict[str, str]]) -> OwnershipDriver:
    core = Ownership("n1", "n2", TOPOLOGY, o.Policy())
    runner = GroupRunner({"ip1": group("ip1", "svc")}, {}, resolve=world.resolve)
    return OwnershipDriver(core, runner, lambda body: sent.append(dict(body)))


async def until(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.005)
    await asyncio.wait_for(poll(), timeout)


def test_events_wait_for_the_probe_then_the_group_starts_when_the_peer_is_dead() -> None:
    world, sent = World(), []

    async def scenario() -> OwnershipDriver:
        driver = make(world, sent)
        driver.feed(o.CommUp(peer_alive=False))  # before the probe: queued
        assert driver.view.phase == "probing" and len(driver.pending) == 1
        driver.start(asyncio.get_running_loop())
        await until(lambda: driver.view.groups["ip1"] is o.GroupState.RUNNING)
        driver.close()
        return driver

    driver = asyncio.run(scenario())
    assert world.journal[:2] == ["ip1 status", "svc status"]  # the probe ran first
    assert world.journal[2:] == ["ip1 start", "svc start"]
    texts = [t.text for t in driver.transitions]
    assert texts[0] == "probed: nothing running here"
    assert "group ip1: stopped -> starting" in texts and "group ip1: starting -> running" in texts
    assert any(m.get("t") == "resource" and m.get("hbd_groups") == "ip1" for m in sent)


def _probe_then_alone(world: World, sent: list) -> OwnershipDriver:
    async def scenario() -> OwnershipDriver:
        driver = make(world, sent)
        driver.start(asyncio.get_running_loop())
        await until(lambda: driver.probed)
        driver.feed(o.CommUp(peer_alive=False))
        await until(lambda: driver.view.stable)
        driver.close()
        return driver

    return asyncio.run(scenario())


def test_a_group_found_partly_running_is_completed_in_plan_order() -> None:
    """Issue 9 bug 4: the probe stopped at the first running resource and adopted the group as running,
    so a dead service behind a running address was never started."""
    world, sent = World(up={"ip1"}), []
    driver = _probe_then_alone(world, sent)
    assert world.journal[:2] == ["ip1 status", "svc status"]  # every resource asked
    assert world.journal[2:] == ["ip1 start", "svc start"]  # the start plan: the running ip1 is idempotent
    assert driver.view.groups["ip1"] is o.GroupState.RUNNING and world.up == {"ip1", "svc"}
    states = driver.runner.resource_states()["ip1"]
    assert states == [("ip1", "running"), ("svc", "running")]


def test_a_group_found_running_is_kept_and_not_started_again() -> None:
    world, sent = World(up={"ip1", "svc"}), []
    driver = _probe_then_alone(world, sent)
    assert driver.view.groups["ip1"] is o.GroupState.RUNNING
    assert "ip1 start" not in world.journal and "svc start" not in world.journal


def test_the_loop_keeps_running_while_an_agent_blocks() -> None:
    world, sent = World(), []
    release = threading.Event()
    blocked = threading.Event()
    original = world.resolve

    def resolve(node):  # type: ignore[no-untyped-def]
        agent = original(node)
        if node.primary == "svc":
            start = agent.start

            def slow_start(deadline):  # type: ignore[no-untyped-def]
                blocked.set()
                assert release.wait(10), "the loop never released the agent"
                return start(deadline)
            agent.start = slow_start  # type: ignore[method-assign]
        return agent

    world.resolve = resolve  # type: ignore[method-assign]

    async def scenario() -> OwnershipDriver:
        driver = make(world, sent)
        driver.start(asyncio.get_running_loop())
        await until(lambda: driver.probed)
        driver.feed(o.CommUp(peer_alive=False))
        await until(blocked.is_set)
        # the agent is blocked in the worker; the loop still runs coroutines and core steps
        assert driver.view.busy == "ip1"
        driver.feed(o.Tick())
        release.set()
        await until(lambda: driver.view.groups["ip1"] is o.GroupState.RUNNING)
        driver.close()
        return driver

    asyncio.run(scenario())


def test_admin_request_is_answered_and_unknown_outcome_times_out() -> None:
    world, sent = World(), []

    async def scenario() -> tuple[o.AdminReply, o.AdminReply]:
        driver = make(world, sent)
        early = await driver.admin("standby", "all", 1.0)  # before the probe: refused at once
        driver.start(asyncio.get_running_loop())
        await until(lambda: driver.probed)
        driver.feed(o.CommUp(peer_alive=True))
        waiting = await driver.admin("standby", "all", 0.3)  # the peer never reports: no outcome in time
        driver.close()
        return early, waiting

    early, waiting = asyncio.run(scenario())
    assert not early.ok and "probing" in early.text
    assert not waiting.ok


def test_the_duplicate_address_probe_is_skipped_by_the_cores_start_option_never_by_reason_text() -> None:
    """Issue 11 item 1: the driver decided from StartGroup.reason (`== "standby"`, `.endswith(" is dead")`);
    then from a pre-probe verdict of its own. Now it carries out the core's typed option (peer_released)."""
    driver = OwnershipDriver(Ownership("n1", "n2", TOPOLOGY, o.Policy()), GroupRunner({}, {}), lambda body: None)
    released: list[bool] = []
    driver._run = lambda work, key, started: released.append(  # type: ignore[method-assign]
        work.keywords["options"].peer_released)
    try:
        for cause, text in ((o.Cause.PEER_DEAD, "standby"), (o.Cause.PREFERRED, "n2 gave up its resources"),
                            (o.Cause.HANDOVER, "n2 is dead"), (o.Cause.PEER_GAVE_UP, "")):
            driver._apply(o.StartGroup("ip1", text, cause))
        # the node core found the VIPs silent in the pre-probe just before the death verdict
        driver._apply(o.StartGroup("ip1", "standby", o.Cause.PEER_DEAD, pre_probe_silent=True))
        driver._apply(o.StartGroup("ip1", "n2 is dead", o.Cause.PREFERRED))
    finally:
        driver.close()
    assert released == [False, False, True, True, True, False]


def test_no_code_under_hbd_branches_on_a_reason_text() -> None:
    import re
    from pathlib import Path

    import hbd

    pattern = re.compile(r"reason ?(==|!=)|reason\.(starts|ends)with")
    root = Path(hbd.__file__).parent
    found = [f"{path.relative_to(root)}:{n}: {line.strip()}" for path in sorted(root.rglob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert found == []
