"""The one place agents run external programs: bounded in time, TERM then KILL, a frozen result back.

Children run in their own session (so escalation reaches their children too), with cwd `/` and an
environment built from a fixed base, PATH and HBD_* plus what the caller passes, never the caller's
whole environment. Of each output stream only the first and last MAX_KEPT_BYTES / 2 are kept (a script
printing 50 MB must not grow the daemon by 50 MB); what was dropped in between is said in its place.
"""
from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

BASE_ENV: dict[str, str] = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C",
    "LC_ALL": "C",
}

DEFAULT_TERM_GRACE_S = 2.0
MAX_KEPT_BYTES = 64 * 1024  # per stream
READ_CHUNK = 65536


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


def _signal_group(proc: subprocess.Popen[Any], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


class _Kept:
    """The head and tail of a stream, at most `limit` bytes in all."""

    def __init__(self, limit: int = MAX_KEPT_BYTES):
        self.half = limit // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > self.half:
                cut = len(self.tail) - self.half
                self.dropped += cut
                del self.tail[:cut]

    def text(self) -> str:
        gap = f"\n[... {self.dropped} bytes of output not kept ...]\n".encode() if self.dropped else b""
        return (bytes(self.head) + gap + bytes(self.tail)).decode("utf-8", "replace")


class _Pipes:
    """Feeds stdin and drains stdout/stderr of a child into bounded buffers, until EOF or a deadline."""

    def __init__(self, proc: subprocess.Popen[bytes], data: bytes | None):
        self.proc, self.data = proc, data or b""
        self.out, self.err = _Kept(), _Kept()
        self.sel = selectors.DefaultSelector()
        for pipe, kept in ((proc.stdout, self.out), (proc.stderr, self.err)):
            if pipe is not None:
                os.set_blocking(pipe.fileno(), False)
                self.sel.register(pipe, selectors.EVENT_READ, kept)
        if proc.stdin is not None:
            os.set_blocking(proc.stdin.fileno(), False)
            self.sel.register(proc.stdin, selectors.EVENT_WRITE, None)

    def pump(self, timeout_s: float) -> bool:
        """True when the pipes reached EOF and the child exited within timeout_s."""
        deadline = time.monotonic() + max(0.0, timeout_s)
        while self.sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            for key, _ in self.sel.select(left):
                if key.data is None:
                    self._feed(key.fileobj)
                    continue
                try:
                    chunk = os.read(key.fd, READ_CHUNK)
                except BlockingIOError:
                    continue
                if chunk:
                    key.data.add(chunk)
                else:
                    self._drop(key.fileobj)
        try:
            self.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return False
        return True

    def _feed(self, stdin: Any) -> None:
        try:
            written = os.write(self.proc.stdin.fileno(), self.data[:READ_CHUNK])  # type: ignore[union-attr]
        except BlockingIOError:
            return
        except OSError:  # the child closed its stdin (EPIPE): it does not want the rest
            written = len(self.data)
        self.data = self.data[written:]
        if not self.data:
            self._drop(stdin)

    def _drop(self, pipe: Any) -> None:
        self.sel.unregister(pipe)
        pipe.close()

    def close(self) -> None:
        """Stop reading (a grandchild that left the session may still hold the pipes)."""
        for key in list(self.sel.get_map().values()):
            self._drop(key.fileobj)
        self.sel.close()


def run(argv: Sequence[str], timeout_s: float, *, env: Mapping[str, str] | None = None,
        input: str | None = None, term_grace_s: float = DEFAULT_TERM_GRACE_S, cwd: str = "/") -> RunResult:
    """Run argv to completion or until timeout_s, then TERM the process group, then KILL after a grace."""
    args = tuple(argv)
    begin = time.monotonic()
    try:
        proc = subprocess.Popen(args, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=child_env(env),
                                start_new_session=True)
    except OSError as exc:
        return RunResult(args, None, "", "", False, time.monotonic() - begin, error=f"cannot run: {exc.strerror}")
    pipes = _Pipes(proc, input.encode("utf-8", "surrogateescape") if input is not None else None)
    try:
        if pipes.pump(timeout_s):
            return RunResult(args, proc.returncode, pipes.out.text(), pipes.err.text(), False,
                             time.monotonic() - begin)
        killed_with = "TERM"
        _signal_group(proc, signal.SIGTERM)
        if not pipes.pump(term_grace_s):
            killed_with = "KILL"
            _signal_group(proc, signal.SIGKILL)
            # After KILL the pipes close unless a grandchild escaped the group; bound that case too.
            if not pipes.pump(term_grace_s):
                pipes.close()
                proc.wait(timeout=term_grace_s)
    finally:
        pipes.close()
        # Whatever happened, nothing of this session may outlive the call.
        _signal_group(proc, signal.SIGKILL)
    return RunResult(args, proc.returncode, pipes.out.text(), pipes.err.text(), True, time.monotonic() - begin,
                     killed_with)
