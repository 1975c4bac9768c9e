"""The one runner of external commands for the lab: bounded in time, errors as LabError."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hbd.errors import LabError

DEFAULT_TIMEOUT = 10.0


def run(
    argv: Sequence[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = True,
    input: str | bytes | None = None,
    env: Mapping[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
    text: bool = True,
) -> subprocess.CompletedProcess[Any]:
    """Run argv to completion in its own process group; a timeout SIGKILLs the whole group (not only
    nsenter, which would leave the command itself running in the node) and raises LabError."""
    if isinstance(input, str) and not text:
        input = input.encode()
    try:
        child = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=text,
            env=dict(env) if env is not None else None,
            preexec_fn=preexec_fn,
            cwd="/",
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise LabError(f"{argv[0]}: not found (install it: see tests/apt-packages)") from exc
    try:
        out, err = child.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.communicate(timeout=5)  # pipes close once the last process of the group is gone
        raise LabError(f"{' '.join(argv)}: timed out after {timeout:g} s") from exc
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        raise
    proc = subprocess.CompletedProcess(child.args, child.returncode, out, err)
    if check and proc.returncode != 0:
        err = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.decode(errors="replace")
        raise LabError(f"{' '.join(argv)}: exit {proc.returncode}: {err.strip()}")
    return proc


def ip_batch(netns: str | None, commands: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Several `ip` commands in one process (one fork instead of dozens keeps lab up fast)."""
    if not commands:
        return
    argv = ["ip"] + (["-n", netns] if netns else []) + ["-batch", "-"]
    run(argv, input="\n".join(commands) + "\n", timeout=timeout)
