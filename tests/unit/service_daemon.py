"""A real hbd daemon on this machine's loopback (bcast lo, a private udpport), no lab: for the service tests."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

# bcast on lo (127.255.255.255): the daemon hears its own heartbeats, as on a real medium. A ucast to this
# node's own address is receive-only (as in Heartbeat), so with it as the only medium the daemon lost its own
# heartbeat after the deadtime and restarted: a test slower than 2 s then met a daemon that was not there.
HACF = "keepalive 200ms\ndeadtime 2\ninitdead 2\nudpport {port}\nbcast lo\nauto_failback on\nnode n1 n2\n"
AUTHKEYS = "auth 1\n1 sha1 0123456789abcdef\n"


def free_udp_port() -> int:
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(tmp_path: Path, port: int, haresources: str = "") -> Path:
    d = tmp_path / "ha.d"
    d.mkdir(exist_ok=True)
    (d / "ha.cf").write_text(HACF.format(port=port))
    (d / "authkeys").write_text(AUTHKEYS)
    (d / "authkeys").chmod(0o600)
    (d / "haresources").write_text(haresources)
    return d


def daemon_args(tmp_path: Path, config: Path) -> list[str]:
    return ["-c", str(config), "--node", "n1", "--pidfile", str(tmp_path / "hbd.pid"),
            "--socket", str(tmp_path / "hbd.sock"), "--state-dir", str(tmp_path / "state")]


def hbd(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("NOTIFY_SOCKET", None)
    return subprocess.run([sys.executable, "-m", "hbd.cli.main", *argv], capture_output=True, text=True,
                          timeout=timeout, env=env)


def _pid(tmp_path: Path) -> int | None:
    try:
        return int((tmp_path / "hbd.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None  # not written (yet, or any more)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    # a zombie counts as gone: it runs nothing
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def stop_daemon(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`hbd stop` of the daemon started with daemon_args(tmp_path, ...). Whatever the stop answered, or if it
    timed out, the daemon must be gone within a bound; else it is SIGKILLed by its pid file, so that a broken
    stop fails the test without leaving the daemon running after it."""
    pid = _pid(tmp_path)
    try:
        done = hbd("stop", "--socket", str(tmp_path / "hbd.sock"), "--timeout", "30")
    except subprocess.TimeoutExpired as e:
        done = subprocess.CompletedProcess(e.cmd, 124, "", f"hbd stop timed out after {e.timeout} s")
    pid = pid or _pid(tmp_path)
    if pid is not None:
        for _ in range(100):  # 10 s at most
            if _gone(pid):
                break
            time.sleep(0.1)
        else:
            os.kill(pid, 9)
            if done.returncode == 0:
                done = subprocess.CompletedProcess(done.args, 1, done.stdout, "hbd stop returned 0, the daemon ran on")
    return done


@contextmanager
def running_daemon(tmp_path: Path, config: Path) -> Iterator[str]:
    """A daemon started with daemon_args(tmp_path, config), its control socket yielded; stopped afterwards
    (stop_daemon), even when the start itself failed or timed out half-way, and the stop must succeed."""
    try:
        started = hbd(*daemon_args(tmp_path, config))
        assert started.returncode == 0, started.stderr
        yield str(tmp_path / "hbd.sock")
    finally:
        stopped = stop_daemon(tmp_path)
    assert stopped.returncode == 0, stopped.stderr
