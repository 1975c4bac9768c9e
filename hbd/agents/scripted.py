"""What the three script classes (LSB, Heartbeat resource.d, OCF) share: run one action, keep its output.

Each class decides how exit codes map onto the contract; this module only runs the script through the
runner and turns what it printed into action lines, so `hbd test test` can show them as rg_test does.
"""
from __future__ import annotations

import os
import stat
from abc import abstractmethod
from pathlib import Path
from typing import Mapping, Sequence

from hbd.agents import runner
from hbd.agents.base import Agent, AgentResult, Deadline, Op, Outcome, failed, running, stopped, timed_out
from hbd.errors import AgentError

# Shortest time a script is given even when the deadline is nearly spent: a status probe before start
# must still be able to answer.
MIN_SLICE_S = 0.5


def check_executable(path: Path, what: str) -> Path:
    """A script must be a regular executable file (Heartbeat: `Cannot locate resource script`)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise AgentError(f"cannot locate {what} {path}") from None
    if not stat.S_ISREG(st.st_mode):
        raise AgentError(f"{what} {path} is not a regular file")
    if not os.access(path, os.X_OK):
        raise AgentError(f"{what} {path} is not executable")
    return path


def run_script(argv: Sequence[str], deadline: Deadline, env: Mapping[str, str] | None = None) -> runner.RunResult:
    return runner.run(argv, max(deadline.remaining(), MIN_SLICE_S), env=env)


def output_lines(result: runner.RunResult) -> tuple[str, ...]:
    """The command line, then everything it printed (stdout, then stderr), one action per line."""
    lines = [f"Executing {' '.join(result.argv)}"]
    lines += [line for line in result.stdout.splitlines() if line.strip()]
    lines += [line for line in result.stderr.splitlines() if line.strip()]
    if result.error:
        lines.append(result.error)
    if result.timed_out:
        lines.append(f"timed out after {result.duration_s:.2f}s, killed with {result.killed_with}")
    return tuple(lines)


class ScriptAgent(Agent):
    """Start/stop/status of a script whose start and stop return 0 on success (LSB, Heartbeat resource.d).

    Start probes status first and skips what already runs (Heartbeat's rule, heartbeat.md §4.2). A stop
    that fails while status says stopped is accepted: such a script is not LSB-compliant, and a reboot
    over it (Heartbeat's escalation) helps nobody.
    """

    path: Path
    idempotent_start = False  # a script may start a second copy: asked for its status first

    @abstractmethod
    def argv(self, action: str) -> list[str]:
        """The command line for one action."""

    @abstractmethod
    def judge_status(self, res: runner.RunResult) -> tuple[Outcome, str]:
        """(RUNNING|STOPPED|FAILED, reason) from a finished status run."""

    def failure_text(self, rc: int | None) -> str:
        return f"exit code {rc}"

    def _status(self, deadline: Deadline, op: Op = "status") -> AgentResult:
        res = run_script(self.argv("status"), deadline)
        lines = output_lines(res)
        if res.timed_out:
            return timed_out(op, f"{self.path.name} status did not finish", *lines)
        if res.error:
            return failed(op, res.error, *lines)
        outcome, reason = self.judge_status(res)
        return AgentResult(op, outcome, reason, actions=lines)

    def _action(self, action: Op, deadline: Deadline) -> tuple[runner.RunResult, tuple[str, ...], str | None]:
        res = run_script(self.argv(action), deadline)
        if res.timed_out:
            return res, output_lines(res), f"{self.path.name} {action} did not finish"
        if res.rc != 0:
            return res, output_lines(res), res.error or f"{action} returned {res.rc} ({self.failure_text(res.rc)})"
        return res, output_lines(res), None

    def status(self, deadline: Deadline) -> AgentResult:
        return self._status(deadline)

    def start(self, deadline: Deadline) -> AgentResult:
        probe = self._status(deadline, "start")
        if probe.outcome is Outcome.RUNNING:
            return running("start", *probe.actions, "already running: start skipped")
        res, lines, problem = self._action("start", deadline)
        lines = probe.actions + lines
        if problem is None:
            return running("start", *lines)
        return (timed_out if res.timed_out else failed)("start", problem, *lines)

    def stop(self, deadline: Deadline) -> AgentResult:
        res, lines, problem = self._action("stop", deadline)
        if problem is None:
            return stopped("stop", *lines)
        if res.timed_out:
            return timed_out("stop", problem, *lines)
        probe = self._status(deadline, "stop")
        if probe.outcome is Outcome.STOPPED:
            return stopped("stop", *lines, *probe.actions,
                           f"{problem} but status says stopped: not LSB-compliant, accepted")
        return failed("stop", problem, *lines, *probe.actions)
