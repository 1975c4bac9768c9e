"""Status checks of the resources of the groups running here, each at its own interval, off the loop.

Each resource has one timer on the event loop (its interval, hbd/config/monitoring.py); when it fires and
the group is running here and idle, the check runs in a thread of its own with its timeout, so a hung
agent delays neither the heartbeats nor any other check. A check that has not answered within its timeout
(+ 1 s for the agent to kill its process) counts as failed; no new check of that resource starts until the
hung one returns. The next check is armed an interval after the last one ended: there is no poll loop.

Results go to the node core (hbd/core/recovery.py via node.py): `CheckFailed` for a failure, `CheckOk`
when a resource that had failed passes again. A result is dropped when the group changed meanwhile (a
restart in place or a start or stop by ownership began or ended: the epoch moved), so a check that saw a
resource stopped on purpose never counts. Restarts in place run on the group worker (`restart`), one
group operation at a time, like every start and stop.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from typing import Callable, Mapping

from hbd.agents.base import Agent, AgentResult, Outcome
from hbd.config.model import ResourceNode
from hbd.config.monitoring import CheckTiming, MonitorSettings
from hbd.core import recovery as r
from hbd.core.ordering import ChildTypes, plan
from hbd.errors import AgentError
from hbd.runtime.groups import GroupResult, describe
from hbd.runtime.logsetup import log_hb

LOG = logging.getLogger("hbd.monitor")
HUNG_GRACE_S = 1.0  # past the timeout, for the agent's own kill of its process


@dataclass
class Check:
    group: str
    node: ResourceNode
    name: str  # as haresources writes it
    timing: CheckTiming
    agent: Agent | None = None
    running: bool = False  # a check of this resource is under way (or hung)
    failing: bool = False
    timer: asyncio.TimerHandle | None = None
    ran: int = 0


def agent_class(agent: Agent) -> str:
    return agent.kind.split(":", 1)[0]


class Monitor:
    def __init__(self, roots: Mapping[str, ResourceNode], types: ChildTypes,
                 resolve: Callable[[ResourceNode], Agent], settings: MonitorSettings,
                 report: Callable[[r.Event], None], may_check: Callable[[str], bool]):
        self.resolve = resolve
        self.settings = settings
        self.report = report  # on the loop: into the node core
        self.may_check = may_check  # the group runs here and no start or stop of it is under way
        self.checks: list[Check] = []
        for key, root in roots.items():
            for step in plan("status", root, types):
                self.checks.append(Check(key, step.node, describe(step.node), settings.checks["*"]))
        self.epoch: dict[str, int] = {key: 0 for key in roots}
        self.restarting: set[str] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        for check in self.checks:
            try:
                check.agent = self.resolve(check.node)
            except AgentError as exc:
                log_hb(LOG, "ERROR", f"{check.name}: not monitored: {exc}")
                continue
            if check.agent.kind == "container":
                continue
            check.timing = self.settings.timing(check.node.type, agent_class(check.agent))
            if check.timing.interval_ms > 0:
                self._arm(check)

    def close(self) -> None:
        self.closed = True
        for check in self.checks:
            if check.timer is not None:
                check.timer.cancel()

    def changed(self, group: str) -> None:
        """The group's state changed (a start or stop by ownership): results of checks under way are stale."""
        if group in self.epoch:
            self.epoch[group] += 1

    def status(self) -> dict[str, list[dict[str, object]]]:
        out: dict[str, list[dict[str, object]]] = {}
        for c in self.checks:
            if c.agent is not None and c.agent.kind != "container":
                out.setdefault(c.group, []).append({
                    "resource": c.name, "interval_ms": c.timing.interval_ms, "timeout_ms": c.timing.timeout_ms,
                    "checks": c.ran, "failing": c.failing})
        return out

    # --- one check --------------------------------------------------------------------------------

    def _arm(self, check: Check) -> None:
        assert self.loop is not None
        if not self.closed:
            check.timer = self.loop.call_later(check.timing.interval_ms / 1000, self._due, check)

    def _ready(self, group: str) -> bool:
        return group not in self.restarting and self.may_check(group)

    def _due(self, check: Check) -> None:
        check.timer = None
        if check.running:
            return  # still hung: re-armed when it returns
        if not self._ready(check.group):
            check.failing = False  # a group not running here has nothing to recover
            self._arm(check)
            return
        assert self.loop is not None and check.agent is not None
        check.running = True
        epoch = self.epoch[check.group]
        timeout_s = check.timing.timeout_ms / 1000
        loop, agent = self.loop, check.agent
        answered = threading.Event()

        def run() -> None:
            try:
                result = agent.call("status", timeout_s)
            except Exception as exc:  # an agent's bug is a failed check, never a dead monitor
                LOG.exception("status check of %s failed (bug)", check.name, extra={"hb_level": "ERROR"})
                result = AgentResult("status", Outcome.FAILED, f"internal error: {exc}")
            answered.set()
            try:
                loop.call_soon_threadsafe(self._checked, check, epoch, result)
            except RuntimeError:  # the loop is closed: the daemon has stopped, nobody to tell
                pass

        def hung() -> None:
            if not answered.is_set() and epoch == self.epoch[check.group]:
                self._failed(check, f"status check did not answer within {timeout_s:g} s")

        threading.Thread(target=run, name=f"hbd-check-{check.name}"[:15], daemon=True).start()
        loop.call_later(timeout_s + HUNG_GRACE_S, hung)

    def _checked(self, check: Check, epoch: int, result: AgentResult) -> None:
        check.running = False
        check.ran += 1
        fresh = epoch == self.epoch[check.group] and self._ready(check.group)
        if fresh and result.outcome is Outcome.RUNNING:
            if check.failing:
                check.failing = False
                self.report(r.CheckOk(check.group, check.name))
        elif fresh:
            why = result.outcome.value + (f": {result.reason}" if result.reason else "")
            self._failed(check, why)
        self._arm(check)

    def _failed(self, check: Check, why: str) -> None:
        check.failing = True
        log_hb(LOG, "ERROR", f"Resource {check.name} of group {check.group} failed its status check: {why}")
        self.report(r.CheckFailed(check.group, check.name, why))

    # --- restart in place ---------------------------------------------------------------------------

    def restart(self, group: str, stop: Callable[[str], GroupResult], start: Callable[[str], GroupResult],
                worker: Callable[[Callable[[], GroupResult]], "asyncio.Future[GroupResult]"],
                from_resource: str | None = None) -> None:
        """Stop then start `group` here on the group worker (`from_resource`: what stop and start touch, for
        the log); `RecoveryDone` with the outcome."""
        self.restarting.add(group)
        self.epoch[group] += 1

        def work() -> GroupResult:
            stopped = stop(group)
            if not stopped.ok:
                return stopped
            return start(group)

        def done(future: "asyncio.Future[GroupResult]") -> None:
            try:
                result = future.result()
            except Exception as exc:  # an agent bug: the restart failed
                LOG.exception("restart of %s failed (bug)", group, extra={"hb_level": "ERROR"})
                result = GroupResult(group, False, f"internal error: {exc}")
            self.restarting.discard(group)
            self.epoch[group] += 1
            for check in self.checks:
                if check.group == group:
                    check.failing = False
            self.report(r.RecoveryDone(group, result.ok, result.reason))

        log_hb(LOG, "WARN", f"Restarting resource group {group} in place"
                            + (f" from {from_resource}" if from_resource is not None else ""))
        worker(work).add_done_callback(done)
