"""The daemon's monitoring: the status checks (monitor.py) wired to the node core and the group worker.

Check results go into the node core as events (its recovery policy decides, hbd/core/recovery.py); the
core's `RestartGroup` comes back here and runs on the group worker; `hbd status` shows each group's fail
count and last failure; `hbd resource cleanup [GROUP]` clears them (the `cleanup` request).
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Mapping

from hbd.config.model import ResourceNode
from hbd.config.monitoring import MonitorSettings
from hbd.config.rules import child_type_table
from hbd.core import node_events as n
from hbd.core import ownership_types as o
from hbd.core import recovery as r
from hbd.runtime.bridge import OWNERSHIP_ACTIONS, Bridge, ms
from hbd.runtime.groups import GroupResult, GroupRunner
from hbd.runtime.logsetup import log_hb
from hbd.runtime.monitor import LOG, Monitor
from hbd.runtime.ownership_driver import OwnershipDriver


class MonitorLane:
    def __init__(self, roots: Mapping[str, ResourceNode], runner: GroupRunner, settings: MonitorSettings,
                 bridge: Bridge, driver: OwnershipDriver):
        self.runner, self.bridge, self.driver = runner, bridge, driver
        self.monitor = Monitor(roots, child_type_table(), runner.resolve, settings, self.event, self.may_check)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.failed: dict[str, str] = {}  # group -> its first resource in group order whose check failed
        driver.watchers.append(self._watch)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.monitor.start(loop)

    def close(self) -> None:
        self.monitor.close()

    def now_ms(self) -> int:
        assert self.loop is not None
        return ms(self.loop.time())

    def may_check(self, group: str) -> bool:
        view = self.driver.view
        return (view.phase is o.Phase.RUNNING and view.groups.get(group) is o.GroupState.RUNNING
                and view.busy != group and not any(q.key == group for q in view.queued))

    def event(self, event: r.Event) -> None:
        """A check result, a restart's outcome or a cleanup: a node core event, its actions carried out."""
        if isinstance(event, r.CheckFailed):  # a restart in place starts from the first that failed
            known = self.runner.position(event.group, self.failed.get(event.group))
            new = self.runner.position(event.group, event.resource)
            if known is None or (new is not None and new < known):
                self.failed[event.group] = event.resource
        if isinstance(event, (r.CheckFailed, r.CheckOk, r.RecoveryDone, r.Cleared)):
            self.driver.carry_out(self.bridge.step(event, self.now_ms(), OWNERSHIP_ACTIONS))

    def _watch(self, item: object) -> None:
        if isinstance(item, o.GroupTransition):
            self.monitor.changed(item.key)
            self.failed.pop(item.key, None)  # started or stopped whole since: an old failure says nothing

    def node_action(self, action: n.Action) -> None:
        """The node core's RestartGroup (and RestartResource: haresources groups restart whole)."""
        if isinstance(action, (r.RestartGroup, r.RestartResource)):
            loop = self.loop
            assert loop is not None
            # the failed resource and those after it in the group (GroupRunner.part); all of it when the
            # failure is not known (a restart after a hand-off that did not happen, say)
            failed = self.failed.pop(action.group, None)
            self.driver.note(f"restart {action.group} in place (monitor)"
                             + (f" from {failed}" if failed is not None else ""))

            def submit(work: Any) -> "asyncio.Future[GroupResult]":
                return loop.run_in_executor(self.driver.worker, work)
            self.monitor.restart(action.group, lambda key: self.runner.stop(key, failed),
                                 lambda key: self.runner.start(key, from_resource=failed), submit, failed)

    # --- status and cleanup ----------------------------------------------------------------------------

    def describe(self) -> dict[str, dict[str, Any]]:
        """Per group: failures, restarts within the window, the last failure (wall-clock time), checks."""
        now = self.now_ms()
        wall_now = time.time()
        checks = self.monitor.status()
        out: dict[str, dict[str, Any]] = {}
        for key in self.monitor.epoch:
            count = self.bridge.node.recovery.counts(key, now)
            last = None
            if count.last is not None:
                wall = wall_now - (now - count.last.at_ms) / 1000
                last = {"resource": count.last.resource, "reason": count.last.reason,
                        "time": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall)),
                        "age_s": round((now - count.last.at_ms) / 1000, 1)}
            out[key] = {"failures": count.failures, "restarts": count.restarts, "last_failure": last,
                        "checks": checks.get(key, [])}
        return out

    def cleanup(self, group: object) -> dict[str, Any]:
        if group is not None and (not isinstance(group, str) or group not in self.monitor.epoch):
            known = ", ".join(self.monitor.epoch) or "none"
            return {"ok": False, "text": f"no resource group {group!r} (groups: {known})"}
        before = {k: v["failures"] for k, v in self.describe().items() if group in (None, k)}
        self.event(r.Cleared(group))
        log_hb(LOG, "info", f"Fail counts cleared: {group or 'every group'}")
        cleared = ", ".join(f"{k} ({v} failures)" for k, v in before.items())
        return {"ok": True, "text": f"cleared: {cleared}", "cleared": sorted(before)}
