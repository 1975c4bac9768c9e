"""The one runner of external commands for the lab: bounded in time, errors as LabError."""
from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence

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
) -> subprocess.CompletedProcess:
    """Run argv to completion; a timeout kills it (subprocess.run sends SIGKILL) and raises LabError."""
    if isinstance(input, str) and not text:
        input = input.encode()
    try:
        proc = subprocess.run(
            list(argv),
            input=input,
            capture_output=True,
            text=text,
            timeout=timeout,
            env=dict(env) if env is not None else None,
            preexec_fn=preexec_fn,
            cwd="/",
        )
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{' '.join(argv)}: timed out after {timeout:g} s") from exc
    except FileNotFoundError as exc:
        raise LabError(f"{argv[0]}: not found (install it: see tests/apt-packages)") from exc
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
