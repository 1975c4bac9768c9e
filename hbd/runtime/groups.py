"""Runs resource groups for the daemon: start/stop plans through the agents, probing at start-up.

Everything here blocks (agents run programs, wait for ARP, mount file systems), so the daemon calls it
from one worker thread, never from the event loop that sends heartbeats. One group operation runs at a
time (the ownership core asks for them one by one).

Each step runs through the one plan executor (hbd/agents/executor.py), which `hbd test test` uses too: its
success rule, its status check before starting a script resource (one that already runs is not started again,
as Heartbeat's ResourceManager does; hbd's idempotent built-in agents skip that call, which keeps a handover
fast), and its verified stop with the forced-stop step (doc/daemon.md "Stop escalation").
A failed start stops, in reverse, what that start touched (the failed resource included: it may be half
up), and reports which resource failed. A stop goes on past a failed resource (stopping the rest is
still right) and reports the first failure.

The start-up probe asks every resource (it does not stop at the first one running): a group with all its
resources running is adopted as running; one with only some running (a daemon killed mid-start, a service
that died, a resource newly added to haresources) is held and later completed by running its start plan,
which starts, in plan order, only what is not running yet. What each resource was last seen doing is kept
for `hbd status`.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable, Mapping

from hbd.agents.base import Agent, AgentResult, Outcome, StartOptions
from hbd.agents.executor import PlanExecutor, StepOutcome, Timeouts, step_label
from hbd.agents.registry import Registry
from hbd.config.model import ResourceNode
from hbd.core.ordering import ChildTypes, Step, plan
from hbd.runtime.logsetup import log_hb

LOG = logging.getLogger("hbd.groups")
__all__ = ["GroupResult", "GroupRunner", "ProbeResult", "Timeouts", "describe"]


@dataclass(frozen=True)
class GroupResult:
    key: str
    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class ProbeResult:
    running: frozenset[str]  # every resource of the group runs here
    partial: frozenset[str] = frozenset()  # some do, not all


describe = step_label  # a resource as haresources writes it (`IPaddr2::192.0.2.50/24`), or `type:name`


class GroupRunner:
    def __init__(self, roots: Mapping[str, ResourceNode], types: ChildTypes, *,
                 resolve: Callable[[ResourceNode], Agent] | None = None, timeouts: Timeouts = Timeouts()):
        self.roots = dict(roots)
        self.types = types
        self.resolve = resolve or Registry().resolve
        self.timeouts = timeouts
        self.executor = PlanExecutor(self.resolve, timeouts=timeouts)  # the daemon's, and hbd test's, rules
        self._states: dict[str, dict[str, str]] = {key: {} for key in self.roots}  # key -> resource -> state
        self._lock = threading.Lock()  # written by the worker thread, read by `hbd status` on the loop

    def resource_states(self) -> dict[str, list[tuple[str, str]]]:
        """What each resource of each group was last seen doing: running, stopped, starting, failed..."""
        with self._lock:
            return {key: list(states.items()) for key, states in self._states.items()}

    def _mark(self, key: str, step: Step, state: str) -> None:
        with self._lock:
            self._states.setdefault(key, {})[describe(step.node)] = state

    # --- one resource ---------------------------------------------------------------------------

    def _call(self, step: Step, options: StartOptions = StartOptions(), key: str | None = None
              ) -> tuple[AgentResult | None, str]:
        """Run one step through the executor; (result, failure text or ""). With `key`, the resource's state
        is recorded."""
        def starting(agent: Agent) -> None:
            if key is not None and step.op != "status":
                self._mark(key, step, {"start": "starting", "stop": "stopping"}[step.op])
            log_hb(LOG, "info", f"Running {describe(step.node)} {step.op}")

        outcome: StepOutcome = self.executor.run_step(step, options, on_call=starting)
        if outcome.agent is not None and outcome.agent.kind == "container":
            return None, ""
        # a status that answers (running or not) is no failure; an agent that cannot be built is one
        failure = "" if outcome.ok or (step.op == "status" and outcome.result is not None) else outcome.failure
        if outcome.result is not None:
            for line in outcome.result.actions:
                log_hb(LOG, "debug", f"{describe(step.node)}: {line}")
        if key is not None:
            if outcome.result is None and outcome.agent is None:
                seen = "failed"
            elif step.op == "status":
                seen = outcome.result.outcome.value if outcome.result is not None else "error"
            else:
                seen = ("running" if step.op == "start" else "stopped") if not failure else f"{step.op} failed"
            self._mark(key, step, seen)
        return outcome.result, failure

    # --- whole groups ---------------------------------------------------------------------------

    def start(self, key: str, options: StartOptions = StartOptions(), from_resource: str | None = None
              ) -> GroupResult:
        """`options`: what the core decided about this start (the peer released it: see StartOptions);
        `from_resource`: only that resource and those after it (a restart in place: `part`)."""
        started: list[Step] = []
        for step in self.part("start", key, from_resource):
            started.append(step)
            _, failure = self._call(step, options, key)
            if failure:
                log_hb(LOG, "ERROR", f"Return code from {failure}")
                self._undo(key, started)
                return GroupResult(key, False, failure)
        return GroupResult(key, True)

    def _undo(self, key: str, started: list[Step]) -> None:
        """Stop, in reverse, every resource this start touched."""
        for step in reversed(started):
            _, failure = self._call(Step("stop", step.node, step.path), key=key)
            if failure:
                log_hb(LOG, "ERROR", f"after a failed start: {failure}")

    def stop(self, key: str, from_resource: str | None = None) -> GroupResult:
        """`from_resource`: only that resource and those after it, the last first (`part`)."""
        first_failure = ""
        for step in self.part("stop", key, from_resource):
            _, failure = self._call(step, key=key)
            if failure:
                log_hb(LOG, "ERROR", f"Return code from {failure}")
                first_failure = first_failure or failure
        return GroupResult(key, not first_failure, first_failure)

    def part(self, op: str, key: str, from_resource: str | None) -> tuple[Step, ...]:
        """The steps of `op` for group `key` that touch `from_resource` (as haresources names it) and the
        resources after it in the group, which start on top of it; the whole group when it is None or not
        found. A haresources group is a list: what comes before the failed resource does not depend on it,
        and keeps running while it is restarted."""
        steps = plan("stop" if op == "stop" else "start", self.roots[key], self.types)
        at = self.position(key, from_resource, steps)
        if at is None:
            return steps
        return steps[:at + 1] if op == "stop" else steps[at:]  # stop runs last-first, start first-last

    def position(self, key: str, resource: str | None, steps: tuple[Step, ...] | None = None) -> int | None:
        """Where `resource` (as haresources names it) stands in `steps` (default: the group's start order);
        None when the group has no such resource."""
        names = [describe(step.node) for step in steps or plan("start", self.roots[key], self.types)]
        return names.index(resource) if resource in names else None

    def running(self, key: str) -> tuple[int, int]:
        """(resources running here, resources asked): every resource is asked, none is skipped."""
        found = asked = 0
        for step in plan("status", self.roots[key], self.types):
            result, failure = self._call(step, key=key)
            if result is None and not failure:
                continue  # a container
            asked += 1
            found += result is not None and result.outcome is Outcome.RUNNING
        return found, asked

    def announce(self, key: str) -> None:
        """Announce the group's addresses again (Agent.announce_again: IPaddr2's gratuitous ARP)."""
        for step in plan("start", self.roots[key], self.types):
            agent = self.executor.agent(step.node)
            if isinstance(agent, str):
                log_hb(LOG, "ERROR", f"not announced: {agent}")
            elif agent.claims_addresses:
                log_hb(LOG, "info", agent.announce_again())

    def probe(self) -> ProbeResult:
        counts = {key: self.running(key) for key in self.roots}
        for key, (found, asked) in counts.items():
            if 0 < found < asked:
                states = ", ".join(f"{name} {state}" for name, state in self.resource_states()[key])
                log_hb(LOG, "WARN", f"Resource group {key} is partly running here ({found} of {asked}): {states}")
        return ProbeResult(frozenset(k for k, (found, asked) in counts.items() if found and found == asked),
                           frozenset(k for k, (found, asked) in counts.items() if 0 < found < asked))
