"""The check runner (hbd/runtime/monitor.py) with fake agents on a real event loop: each resource at its own
interval, a hung check counts as failed at its timeout and never delays another resource's check, a
result of a group that changed meanwhile is dropped, a failing resource that passes again says so, and a
restart in place runs stop then start and reports RecoveryDone."""
from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable

from hbd.agents.base import Agent, AgentResult, Deadline, Outcome, running, stopped
from hbd.config.model import ResourceNode
from hbd.config.monitoring import MonitorSettings, apply_line
from hbd.core import recovery as r
from hbd.runtime.groups import GroupResult
from hbd.runtime.monitor import Monitor


class FakeAgent(Agent):
    kind = "lsb"

    def __init__(self, name: str, answer: Callable[[], AgentResult]):
        self.name, self.answer = name, answer
        self.calls: list[float] = []

    @property
    def label(self) -> str:
        return self.name

    def start(self, deadline: Deadline) -> AgentResult:
        return running("start")

    def stop(self, deadline: Deadline) -> AgentResult:
        return stopped("stop")

    def status(self, deadline: Deadline) -> AgentResult:
        self.calls.append(time.monotonic())
        return self.answer()


def node(name: str) -> ResourceNode:
    return ResourceNode(name, name, (("args", name),))


def run_monitor(agents: dict[str, FakeAgent], seconds: float, settings: MonitorSettings,
                may: Callable[[str], bool] = lambda g: True, poke: Callable[[Monitor], None] | None = None
                ) -> tuple[list[tuple[float, r.Event]], Monitor]:
    events: list[tuple[float, r.Event]] = []
    roots = {f"g-{k}": node(k) for k in agents}

    async def main() -> Monitor:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        mon = Monitor(roots, {}, lambda n: agents[n.type], settings, lambda e: events.append((loop.time() - t0, e)),
                      may)
        mon.start(loop)
        if poke is not None:
            loop.call_later(0.05, poke, mon)
        await asyncio.sleep(seconds)
        mon.close()
        return mon
    return events, asyncio.run(main())


FAST = apply_line(MonitorSettings(), "interval=1 timeout=1")


def test_each_resource_is_checked_at_its_interval_and_a_failure_is_reported() -> None:
    state = {"up": True}
    good = FakeAgent("good", lambda: running("status"))
    flaky = FakeAgent("flaky", lambda: running("status") if state["up"] else stopped("status", "no pid"))
    threading.Timer(1.5, lambda: state.update(up=False)).start()  # between the first and second check
    events, _ = run_monitor({"good": good, "flaky": flaky}, 3.4, FAST)
    # never faster than the interval (no poll loop); no upper bound: a loaded machine delays timers
    assert len(good.calls) >= 2 and all(b - a >= 0.95 for a, b in zip(good.calls, good.calls[1:]))
    failed = [(t, e) for t, e in events if isinstance(e, r.CheckFailed)]
    assert failed and {e.group for _, e in failed} == {"g-flaky"} and failed[0][0] > 1.5
    assert "stopped" in failed[0][1].reason


def test_a_hung_check_fails_at_its_timeout_and_never_delays_another() -> None:
    hang = threading.Event()
    hung = FakeAgent("hung", lambda: (hang.wait(10), running("status"))[1])
    good = FakeAgent("good", lambda: running("status"))
    events, _ = run_monitor({"hung": hung, "good": good}, 4.5, FAST)
    hang.set()
    failed = [(t, e) for t, e in events if isinstance(e, r.CheckFailed)]
    assert len(failed) == 1 and failed[0][1].group == "g-hung" and "did not answer within 1 s" in failed[0][1].reason
    assert failed[0][0] >= 2.95  # first check at 1 s, then timeout 1 s + 1 s grace: never earlier
    assert len(hung.calls) == 1  # never a second check while the first hangs
    assert len(good.calls) >= 3  # went on while the other check hung


def test_no_check_while_the_group_is_not_running_here() -> None:
    agent = FakeAgent("a", lambda: stopped("status"))
    events, _ = run_monitor({"a": agent}, 2.5, FAST, may=lambda g: False)
    assert agent.calls == [] and events == []


def test_a_result_of_a_group_that_changed_meanwhile_is_dropped_and_recovery_is_said() -> None:
    in_first, release = threading.Event(), threading.Event()
    calls = {"n": 0}

    def answer() -> AgentResult:
        calls["n"] += 1
        if calls["n"] == 1:
            in_first.set()
            release.wait(5)
        return stopped("status") if calls["n"] <= 2 else running("status")
    slow = FakeAgent("slow", answer)

    def change(mon: Monitor) -> None:
        loop = asyncio.get_running_loop()

        def during_first_check() -> None:
            in_first.wait(5)
            loop.call_soon_threadsafe(mon.changed, "g-slow")  # before the first result reaches the loop
            release.set()
        threading.Thread(target=during_first_check, daemon=True).start()
    events, _ = run_monitor({"slow": slow}, 6.0, FAST, poke=change)
    kinds = [type(e).__name__ for _, e in events]
    assert calls["n"] >= 3 and kinds == ["CheckFailed", "CheckOk"], kinds  # the first (stale) failure dropped


def test_restart_runs_stop_then_start_on_the_worker_and_reports_its_outcome() -> None:
    done: list[r.Event] = []
    order: list[str] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        mon = Monitor({"g": node("a")}, {}, lambda n: FakeAgent("a", lambda: running("status")), FAST, done.append,
                      lambda g: True)
        mon.start(loop)

        def stop(key: str) -> GroupResult:
            order.append("stop " + key)
            return GroupResult(key, True)

        def start(key: str) -> GroupResult:
            order.append("start " + key)
            return GroupResult(key, False, "a start failed")
        mon.restart("g", stop, start, lambda work: loop.run_in_executor(None, work))
        assert "g" in mon.restarting
        for _ in range(100):
            if done:
                break
            await asyncio.sleep(0.01)
        mon.close()
    asyncio.run(main())
    assert order == ["stop g", "start g"] and done == [r.RecoveryDone("g", False, "a start failed")]


def _unused(*_: Any) -> None:
    del Outcome
