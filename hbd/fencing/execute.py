"""Carry out a fence plan (as fenced's fence_node does): methods in order until one succeeds.

A method with one device runs the requested action (`reboot` or `off`). A method with several devices
(a node fed by two power supplies) must turn every one off before any comes back, so it runs `off` on each
device, then, for `reboot`, `on` on each; a failed `on` leaves the node off, which is still fenced.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal, Sequence

from hbd.fencing.agent import AgentResult, run_agent
from hbd.fencing.model import FenceMethod, FencePlan

DEFAULT_TIMEOUT_S = 60.0
Runner = Callable[[str, Sequence[tuple[str, str]], str, float], AgentResult]


@dataclass
class FenceOutcome:
    node: str
    ok: bool
    method: str | None = None  # the method that succeeded
    runs: list[AgentResult] = field(default_factory=list)

    def describe(self) -> str:
        if self.ok:
            return f"{self.node} fenced by method {self.method}"
        failed = [r.describe() for r in self.runs if not r.ok]
        return f"fencing {self.node} failed: " + ("; ".join(failed) or "no fence method configured")


def fence(plan: FencePlan, action: Literal["reboot", "off"] = "reboot", *,
          timeout_s: float = DEFAULT_TIMEOUT_S, runner: Runner = run_agent,  # type: ignore[assignment]
          log: Callable[[AgentResult], None] = lambda r: None) -> FenceOutcome:
    outcome = FenceOutcome(plan.node, False)
    for method in plan.methods:
        if _method(method, action, timeout_s, runner, outcome, log):
            outcome.ok, outcome.method = True, method.name
            break
    return outcome


def _method(method: FenceMethod, action: str, timeout_s: float, runner: Runner, outcome: FenceOutcome,
            log: Callable[[AgentResult], None]) -> bool:
    def run(use_index: int, act: str) -> bool:
        use = method.devices[use_index]
        result = runner(use.device.agent, use.merged, act, timeout_s)
        outcome.runs.append(result)
        log(result)
        return result.ok

    if not method.devices:
        return False
    if len(method.devices) == 1:
        return run(0, action)
    if not all(run(i, "off") for i in range(len(method.devices))):
        return False
    if action == "reboot":
        for i in range(len(method.devices)):
            run(i, "on")
    return True
