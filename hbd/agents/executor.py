"""Runs the steps of a start/stop/status plan through the real agents, printing what each did.

`hbd test test start|stop|status service NAME` calls `run_step(step)` for each step of the plan. Each
step prints rg_test's `[op] type:primary` line, then the agent's action lines the way rg_test shows agent
output (`<info>   text`, the message at column 10, after ocf-shellfuncs), then one line with the
outcome and the call's duration.
"""
from __future__ import annotations

import logging
import sys
from typing import Callable, Protocol, TextIO

from hbd.agents.base import Agent, AgentResult, Op, Outcome
from hbd.agents.registry import Registry
from hbd.config.model import ResourceNode
from hbd.errors import AgentError

log = logging.getLogger("hbd.agents")


class PlanStep(Protocol):
    op: Op
    node: ResourceNode


def pretty(prio: str, message: str) -> str:
    """`<info>   message`: the priority in angle brackets, the message from column 10."""
    return f"<{prio}>".ljust(9) + message


def step_succeeded(op: str, result: AgentResult) -> bool:
    """start must leave it running, stop stopped; a status step is good only when running (rg_test)."""
    if op == "status":
        return result.outcome is Outcome.RUNNING
    return result.ok


def step_label(node: ResourceNode) -> str:
    """rg_test's `type:primary`; a haresources resource is shown as written (its `args` attribute marks it)."""
    return node.primary if node.attr("args") is not None else node.ident


def run_step(step: PlanStep, *, registry: Registry | None = None, out: TextIO | None = None,
             timeout_s: float | None = None, resolve: Callable[[ResourceNode], Agent] | None = None) -> bool:
    """Run one plan step for real; print the agent's actions and outcome; True when it succeeded."""
    stream = out if out is not None else sys.stdout
    print(f"[{step.op}] {step_label(step.node)}", file=stream, flush=True)
    # A short-lived command must not cut the ARP burst short at exit: the rest goes to a detached child.
    reg = registry or Registry(background_burst=False)
    try:
        agent = (resolve or reg.resolve)(step.node)
    except AgentError as exc:
        print(pretty("err", f"{step.node.ident}: {exc}"), file=stream)
        return False
    try:
        result = agent.call(step.op, timeout_s)
    except Exception as exc:  # the step boundary: an agent's bug must not take the whole plan down
        log.exception("bug in %s %s", agent.label, step.op)
        print(pretty("err", f"{step.op} on {step.node.ident}: internal error {type(exc).__name__}: {exc}"),
              file=stream)
        return False
    burst = getattr(agent, "burst", None)
    if burst is not None and burst.thread is None and burst.remaining:
        burst.detach()
    for line in result.actions:
        print(pretty("info", line), file=stream)
    ok = step_succeeded(step.op, result)
    summary = (f"{step.op} on {step.node.type} \"{step.node.primary}\" {result.outcome.value} "
               f"in {result.duration_s:.3f}s")
    print(pretty("info" if ok else "err", summary + (f": {result.reason}" if result.reason else "")), file=stream)
    stream.flush()
    return ok
