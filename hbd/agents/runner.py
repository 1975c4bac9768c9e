"""The one place agents run external programs: bounded in time, TERM then KILL, a frozen result back.

Children run in their own session (so escalation reaches their children too), with cwd `/` and an
environment built from a fixed base, PATH and HBD_* plus what the caller passes, never the caller's
whole environment.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Mapping, Sequence

BASE_ENV: dict[str, str] = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C",
    "LC_ALL": "C",
}

DEFAULT_TERM_GRACE_S = 2.0


@dataclass(frozen=True)
class RunResult:
    argv: tuple[str, ...]
    rc: int | None  # None when the program could not be started or did not exit
    stdout: str
    stderr: str
    timed_out: bool
    duration_s: float
    killed_with: str | None = None  # "TERM" or "KILL" when the runner had to signal it
    error: str | None = None  # why it could not be started

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.timed_out

    def describe(self) -> str:
        """One line for logs: the command and how it ended."""
        cmd = " ".join(self.argv)
        if self.error:
            return f"{cmd}: {self.error}"
        if self.timed_out:
            return f"{cmd}: timed out after {self.duration_s:.2f}s (killed with {self.killed_with})"
        return f"{cmd}: rc={self.rc} in {self.duration_s:.3f}s"


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(BASE_ENV)
    # Keep the caller's PATH (the lab puts its emulators first on it) and hbd's own HBD_* variables
    # (they tell the lab's emulators which node they run in); nothing else of the caller leaks through.
    if "PATH" in os.environ:
        env["PATH"] = os.environ["PATH"]
    env.update({k: v for k, v in os.environ.items() if k.startswith("HBD_")})
    if extra:
        env.update(extra)
    return env


def _signal_group(proc: subprocess.Popen[str], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def run(argv: Sequence[str], timeout_s: float, *, env: Mapping[str, str] | None = None,
        input: str | None = None, term_grace_s: float = DEFAULT_TERM_GRACE_S, cwd: str = "/") -> RunResult:
    """Run argv to completion or until timeout_s, then TERM the process group, then KILL after a grace."""
    args = tuple(argv)
    begin = time.monotonic()
    try:
        proc = subprocess.Popen(args, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                                cwd=cwd, env=child_env(env), start_new_session=True)
    except OSError as exc:
        return RunResult(args, None, "", "", False, time.monotonic() - begin, error=f"cannot run: {exc.strerror}")
    try:
        out, err = proc.communicate(input, timeout=max(0.0, timeout_s))
        return RunResult(args, proc.returncode, out, err, False, time.monotonic() - begin)
    except subprocess.TimeoutExpired:
        pass
    killed_with = "TERM"
    _signal_group(proc, signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=term_grace_s)
    except subprocess.TimeoutExpired:
        killed_with = "KILL"
        _signal_group(proc, signal.SIGKILL)
        # After KILL the pipes close unless a grandchild escaped the group; bound that case too.
        try:
            out, err = proc.communicate(timeout=term_grace_s)
        except subprocess.TimeoutExpired:
            # A grandchild left the session and holds the pipes: stop reading, the child itself is dead.
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
            proc.wait(timeout=term_grace_s)
            out, err = "", ""
    # Whatever happened, nothing of this session may outlive the call.
    _signal_group(proc, signal.SIGKILL)
    return RunResult(args, proc.returncode, out or "", err or "", True, time.monotonic() - begin, killed_with)
