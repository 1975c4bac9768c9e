"""The fencing lane with the real ownership core and driver: no takeover before the dead peer is fenced or
acknowledged by hand, retries, the fence delay, and a lane that never waits behind group work."""
from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest
from daemon_fakes import World, group

from hbd.core import ownership_types as o
from hbd.core.holdings import GroupInfo, Topology
from hbd.core.ownership import Ownership
from hbd.fencing.execute import FenceOutcome
from hbd.fencing.model import DeviceUse, FenceDevice, FenceMethod, FencePlan
from hbd.runtime.fencing_lane import FencingLane, LaneSettings
from hbd.runtime.groups import GroupRunner
from hbd.runtime.ownership_driver import OwnershipDriver

TOPOLOGY = Topology((GroupInfo("ip1", "n2"),))  # the peer's group: taken over when n2 dies
PLAN = FencePlan("n2", (FenceMethod("pdu", (DeviceUse(FenceDevice("pdu", "fence_x")),)),))


class Fencer:
    """Stands in for hbd.fencing.execute.fence: answers from a list of outcomes, records each call."""

    def __init__(self, results: list[bool]):
        self.results = results
        self.calls: list[float] = []

    def __call__(self, plan: FencePlan, action: str, **kw: object) -> FenceOutcome:
        self.calls.append(time.monotonic())
        ok = self.results.pop(0) if self.results else False
        return FenceOutcome(plan.node, ok, "pdu" if ok else None)


def build(world: World, fencer: Fencer, plan: FencePlan = PLAN, delay_s: float = 0.0,
          holds: bool = True) -> tuple[OwnershipDriver, FencingLane]:
    core = Ownership("n1", "n2", TOPOLOGY, o.Policy(fencing=True, fence_retry_ms=50))
    runner = GroupRunner({"ip1": group("ip1", "svc")}, {}, resolve=world.resolve)
    lane: FencingLane | None = None
    driver = OwnershipDriver(core, runner, lambda body: None, on_fence=lambda node: lane.request(node))  # type: ignore[union-attr]
    lane = FencingLane(LaneSettings(plan, delay_s=delay_s), driver.feed, lambda: holds,
                       lambda node: node == "n2" and core.fence_at is not None and not core.peer_view.alive,
                       fencer=fencer)
    return driver, lane


async def until(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.005)
    await asyncio.wait_for(poll(), timeout)


async def peer_dead(driver: OwnershipDriver, lane: FencingLane) -> None:
    loop = asyncio.get_running_loop()
    lane.start(loop)
    driver.start(loop)
    await until(lambda: driver.probed)
    driver.feed(o.CommUp(peer_alive=False))


def test_no_takeover_while_fencing_fails_then_takeover_once_it_succeeds() -> None:
    world, fencer = World(), Fencer([False, False, True])

    async def scenario() -> None:
        driver, lane = build(world, fencer)
        await peer_dead(driver, lane)
        await until(lambda: len(fencer.calls) == 2)
        assert "ip1 start" not in world.journal and driver.view.groups["ip1"] is o.GroupState.STOPPED
        await until(lambda: driver.view.groups["ip1"] is o.GroupState.RUNNING)
        assert len(fencer.calls) == 3 and world.journal.index("ip1 start") >= 0
        assert lane.describe()["last"] == "n2 fenced by method pdu"
        driver.close()
        lane.close()

    asyncio.run(scenario())


def test_fence_ack_releases_the_takeover_only_while_fencing_is_pending() -> None:
    world, fencer = World(), Fencer([])  # every attempt fails

    async def scenario() -> None:
        driver, lane = build(world, fencer)
        assert lane.acknowledge("n2") == (False, "n2 is not waiting to be fenced: nothing acknowledged")
        await peer_dead(driver, lane)
        await until(lambda: len(fencer.calls) >= 2)
        assert "ip1 start" not in world.journal
        ok, text = lane.acknowledge("n2")
        assert ok and "acknowledged" in text
        await until(lambda: driver.view.groups["ip1"] is o.GroupState.RUNNING)
        assert not lane.acknowledge("n2")[0]  # fenced now: nothing is waiting any more
        driver.close()
        lane.close()

    asyncio.run(scenario())


def test_manual_only_fencing_waits_for_the_operator(caplog: pytest.LogCaptureFixture) -> None:
    world, fencer = World(), Fencer([True])
    caplog.set_level(logging.INFO, logger="hbd.fencing")

    async def scenario() -> None:
        driver, lane = build(world, fencer, plan=FencePlan("n2", ()))
        await peer_dead(driver, lane)
        await asyncio.sleep(0.3)  # several retry periods (50 ms): still nothing taken over
        assert "ip1 start" not in world.journal and not fencer.calls
        assert lane.acknowledge("n2")[0]
        await until(lambda: driver.view.groups["ip1"] is o.GroupState.RUNNING)
        driver.close()
        lane.close()

    asyncio.run(scenario())
    assert sum("waiting for an operator" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("holds", [True, False])
def test_the_node_without_groups_waits_the_fence_delay(holds: bool, caplog: pytest.LogCaptureFixture) -> None:
    world, fencer = World(), Fencer([True])
    caplog.set_level(logging.INFO, logger="hbd.fencing")

    async def scenario() -> float:
        driver, lane = build(world, fencer, delay_s=0.4, holds=holds)
        begun = time.monotonic()
        await peer_dead(driver, lane)
        await until(lambda: fencer.calls)
        driver.close()
        lane.close()
        return fencer.calls[0] - begun

    waited = asyncio.run(scenario())
    said = any("STONITH: waiting 0.4 s before fencing n2" in r.getMessage() for r in caplog.records)
    assert said is not holds
    if not holds:
        assert waited >= 0.4


def test_fencing_does_not_wait_behind_blocked_group_work() -> None:
    world, fencer = World(), Fencer([True])
    release = threading.Event()

    async def scenario() -> None:
        driver, lane = build(world, fencer)
        loop = asyncio.get_running_loop()
        lane.start(loop)
        driver.start(loop)
        await until(lambda: driver.probed)
        driver.worker.submit(release.wait, 10)  # a stop hanging in the group lane
        lane.request("n2")
        await until(lambda: fencer.calls, timeout=3)
        release.set()
        driver.close()
        lane.close()

    asyncio.run(scenario())
    assert len(fencer.calls) == 1
