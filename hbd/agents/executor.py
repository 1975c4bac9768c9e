"""The one plan executor: runs the steps of a start/stop/status plan through the agents, with one success rule.

The daemon (hbd/runtime/groups.py) and `hbd test test start|stop|status` both run their steps here, so a
step succeeds or fails the same way in both:
- start must leave the resource running, stop stopped, and a status step is good only when the resource
  runs (rg_test's rule) — `step_succeeded`, the only place this is decided;
- an agent whose start is not known to be idempotent (a script: LSB, resource.d, OCF; `Agent.idempotent_start`)
  is asked for its status first when the caller wants it (the daemon: Heartbeat's ResourceManager, heartbeat.md
  §11.18), and one that already runs is not started again;
- a stop is verified: a stop that says "stopped" while status still says running is a failed stop, never a
  silent success; a failed stop asks the agent to force it (`Agent.force_stop`: Filesystem kills the holders)
  and verifies again (doc/daemon.md "Stop escalation");
- `StartOptions` carry what the caller knows about a start (the peer released the resource), typed; each agent
  decides what it may skip because of it (IPaddr2: its duplicate-address probe).

`run_step` is the rg_test-style printer of `hbd test test`: each step prints rg_test's `[op] type:primary` line,
the agent's action lines (`<info>   text`, the message at column 10, after ocf-shellfuncs), then one line
with the outcome and the call's duration.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Callable, Protocol, TextIO

from hbd.agents.base import Agent, AgentResult, Op, Outcome, StartOptions
from hbd.agents.registry import Registry
from hbd.config.model import ResourceNode
from hbd.errors import AgentError

log = logging.getLogger("hbd.agents")
ESCALATION_LOG = logging.getLogger("hbd.resources")


class PlanStep(Protocol):
    @property
    def op(self) -> Op: ...

    @property
    def node(self) -> ResourceNode: ...


@dataclass(frozen=True)
class Timeouts:
    start_s: float | None = None  # None: the agent's default
    stop_s: float | None = None
    status_s: float | None = None

    def of(self, op: Op) -> float | None:
        return {"start": self.start_s, "stop": self.stop_s, "status": self.status_s}[op]


@dataclass(frozen=True)
class StepOutcome:
    """What one step did. `result` is None when no agent was called (a container, or no agent could be built)."""

    ok: bool
    result: AgentResult | None = None
    failure: str = ""  # for the log: "" when ok
    agent: Agent | None = None


def step_succeeded(op: str, result: AgentResult) -> bool:
    """start must leave it running, stop stopped; a status step is good only when running (rg_test)."""
    if op == "status":
        return result.outcome is Outcome.RUNNING
    return result.ok


def step_label(node: ResourceNode) -> str:
    """rg_test's `type:primary`; a haresources resource is shown as written (its `args` attribute marks it)."""
    return node.primary if node.attr("args") is not None else node.ident


def _failure(node: ResourceNode, result: AgentResult) -> str:
    return f"{step_label(node)} {result.op} {result.outcome.value}" + (f": {result.reason}" if result.reason else "")


class PlanExecutor:
    """Runs plan steps through agents. `status_before_start`: ask a script resource whether it already runs
    before starting it (the daemon); `hbd test test` calls start directly, as rg_test does, and calls
    containers too (`call_containers`: rg_test shows their steps), where the daemon skips them."""

    def __init__(self, resolve: Callable[[ResourceNode], Agent], *, timeouts: Timeouts = Timeouts(),
                 status_before_start: bool = True, call_containers: bool = False):
        self.resolve = resolve
        self.timeouts = timeouts
        self.status_before_start = status_before_start
        self.call_containers = call_containers

    def agent(self, node: ResourceNode) -> Agent | str:
        """The node's agent, or why it cannot be built."""
        try:
            return self.resolve(node)
        except AgentError as exc:
            return f"{step_label(node)}: {exc}"

    def run_step(self, step: PlanStep, options: StartOptions = StartOptions(), *, verify_stop: bool = True,
                 on_call: Callable[[Agent], None] = lambda agent: None) -> StepOutcome:
        agent = self.agent(step.node)
        if isinstance(agent, str):
            return StepOutcome(False, failure=agent)
        if agent.kind == "container" and not self.call_containers:
            return StepOutcome(True, agent=agent)
        on_call(agent)
        if step.op == "start" and self.status_before_start and not agent.idempotent_start:
            before = agent.call("status", self.timeouts.status_s)
            if before.outcome is Outcome.RUNNING:
                log.info("Resource %s is already running: not started again", step_label(step.node))
                return StepOutcome(True, before, agent=agent)
        result = agent.call(step.op, self.timeouts.of(step.op), options)
        if step.op == "stop" and verify_stop:
            return self._verified_stop(step.node, agent, result)
        ok = step_succeeded(step.op, result)
        return StepOutcome(ok, result, "" if ok else _failure(step.node, result), agent)

    def _verified_stop(self, node: ResourceNode, agent: Agent, result: AgentResult) -> StepOutcome:
        """A stop counts only when status then says stopped; a failed one is forced once and verified again."""
        label = step_label(node)
        failure = "" if result.ok else _failure(node, result)
        check = agent.call("status", self.timeouts.status_s)
        if not failure and check.outcome is Outcome.STOPPED:
            return StepOutcome(True, result, agent=agent)
        if not failure:
            failure = f"{label} stop returned success but status says {check.outcome.value}" + (
                f": {check.reason}" if check.reason else "")
        escalate(f"{label}: {failure}; status after the stop: {check.outcome.value}")
        forced = agent.force_stop(self.timeouts.stop_s)
        if forced is None:
            escalate(f"{label}: no forced stop for {agent.kind} resources")
            return StepOutcome(False, result, failure, agent)
        escalate(f"{label}: forced stop: {forced}" + "".join(f"; {line}" for line in forced.actions))
        check = agent.call("status", self.timeouts.status_s)
        if forced.ok and check.outcome is Outcome.STOPPED:
            escalate(f"{label}: stopped after the forced stop (status: stopped)")
            return StepOutcome(True, forced, agent=agent)
        escalate(f"{label}: still not stopped after the forced stop (status: {check.outcome.value})")
        return StepOutcome(False, forced, failure, agent)


def escalate(text: str) -> None:
    """One greppable line per step of a stop's escalation: `stop escalation: ...` (doc/daemon.md)."""
    ESCALATION_LOG.error("stop escalation: %s", text, extra={"hb_level": "ERROR"})


def pretty(prio: str, message: str) -> str:
    """`<info>   message`: the priority in angle brackets, the message from column 10."""
    return f"<{prio}>".ljust(9) + message


def run_step(step: PlanStep, *, registry: Registry | None = None, out: TextIO | None = None,
             timeout_s: float | None = None, resolve: Callable[[ResourceNode], Agent] | None = None) -> bool:
    """Run one plan step for real (hbd test test); print the agent's actions and outcome; True when it succeeded."""
    stream = out if out is not None else sys.stdout
    print(f"[{step.op}] {step_label(step.node)}", file=stream, flush=True)
    # A short-lived command must not cut the ARP burst short at exit: the rest goes to a detached child.
    reg = registry or Registry(background_burst=False)
    timeouts = Timeouts(timeout_s, timeout_s, timeout_s)
    executor = PlanExecutor(resolve or reg.resolve, timeouts=timeouts, status_before_start=False,
                             call_containers=True)
    try:
        outcome = executor.run_step(step, verify_stop=False)
    except Exception as exc:  # the step boundary: an agent's bug must not take the whole plan down
        log.exception("bug in %s %s", step_label(step.node), step.op)
        print(pretty("err", f"{step.op} on {step.node.ident}: internal error {type(exc).__name__}: {exc}"),
              file=stream)
        return False
    result = outcome.result
    if result is None:
        if not outcome.ok:
            print(pretty("err", f"{step.node.ident}: {outcome.failure.partition(': ')[2]}"), file=stream)
        return outcome.ok
    burst = getattr(outcome.agent, "burst", None)
    if burst is not None and burst.thread is None and burst.remaining:
        burst.detach()
    for line in result.actions:
        print(pretty("info", line), file=stream)
    summary = (f"{step.op} on {step.node.type} \"{step.node.primary}\" {result.outcome.value} "
               f"in {result.duration_s:.3f}s")
    print(pretty("info" if outcome.ok else "err", summary + (f": {result.reason}" if result.reason else "")),
          file=stream)
    stream.flush()
    return outcome.ok
