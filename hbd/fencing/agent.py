"""One fence agent run by fence-agents' protocol (fence-agents' doc/FenceAgentAPI.md).

The agent reads `key=value` lines on stdin, one of them `action=`; it exits 0 on success. For `status`,
0 means the target's power is on, 2 that it is off, anything else that the status is unknown. `monitor`
checks the device itself (0: reachable). A run that outlives its timeout is killed with its process group
and counts as failed: an agent hanging on an unreachable device must never hold up the next method.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

Action = Literal["off", "on", "reboot", "status", "monitor", "metadata"]
ACTIONS: tuple[Action, ...] = ("off", "on", "reboot", "status", "monitor", "metadata")
AGENT_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin")
STATUS_ON, STATUS_OFF = 0, 2
OUTPUT_LIMIT = 4096  # of the agent's output kept for the log
METADATA_LIMIT = 1 << 20  # metadata is read whole
SECRET_WORDS = ("passw", "secret", "key")
KILL_WAIT_S = 5.0


@dataclass(frozen=True)
class AgentResult:
    agent: str
    action: str
    code: int | None  # None: killed at the timeout, or could not be started
    output: str
    seconds: float
    why: str = ""  # set when the agent could not run or timed out

    @property
    def ok(self) -> bool:
        return self.code == 0

    @property
    def power(self) -> Literal["on", "off", "unknown"]:
        """For a `status` run: the target's power."""
        if self.code == STATUS_ON:
            return "on"
        return "off" if self.code == STATUS_OFF else "unknown"

    def describe(self) -> str:
        if self.why:
            return f"{self.agent} {self.action}: {self.why}"
        last = self.output.strip().splitlines()[-1:] or [""]
        tail = f" ({last[0][:200]})" if last[0] else ""
        return f"{self.agent} {self.action}: exit {self.code} after {self.seconds:.1f} s{tail}"


def find_agent(name: str) -> Path | None:
    """An absolute path as given, else the agent in fence-agents' directories or on PATH."""
    if "/" in name:
        path = Path(name)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    for folder in AGENT_DIRS:
        path = Path(folder) / name
        if path.is_file() and os.access(path, os.X_OK):
            return path
    found = shutil.which(name)
    return Path(found) if found else None


def stdin_text(params: Sequence[tuple[str, str]], action: str) -> str:
    """The agent's input: the parameters in order, then the action (which always wins)."""
    lines = [f"{k}={v}" for k, v in params if k != "action"]
    lines.append(f"action={action}")
    return "\n".join(lines) + "\n"


def redacted(params: Sequence[tuple[str, str]]) -> str:
    """The parameters for a log line, with passwords and keys blanked out."""
    return " ".join(f"{k}={'***' if any(w in k.lower() for w in SECRET_WORDS) else v}" for k, v in params)


def run_agent(agent: str, params: Sequence[tuple[str, str]], action: Action, timeout_s: float) -> AgentResult:
    """Run `agent` once with `action`; never raises for the agent's own failures."""
    if action not in ACTIONS:
        raise ValueError(f"unknown fence action {action!r}")
    begun = time.monotonic()
    path = find_agent(agent)
    if path is None:
        return AgentResult(agent, action, None, "", 0.0, f"fence agent {agent} not found "
                                                          f"(looked in {', '.join(AGENT_DIRS)} and PATH)")
    try:
        proc = subprocess.Popen([str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True, text=True)
    except OSError as exc:
        return AgentResult(agent, action, None, "", 0.0, f"cannot run {path}: {exc.strerror or exc}")
    try:
        output, _ = proc.communicate(stdin_text(params, action), timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        try:
            output, _ = proc.communicate(timeout=KILL_WAIT_S)
        except subprocess.TimeoutExpired:  # a descendant left the group and keeps the pipe open
            output = ""
        return AgentResult(agent, action, None, (output or "")[-OUTPUT_LIMIT:], time.monotonic() - begun,
                           f"no answer within {timeout_s:g} s: killed")
    limit = METADATA_LIMIT if action == "metadata" else OUTPUT_LIMIT
    return AgentResult(agent, action, proc.returncode, (output or "")[-limit:], time.monotonic() - begun)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
