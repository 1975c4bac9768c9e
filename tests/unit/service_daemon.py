"""A real hbd daemon on this machine's loopback (ucast lo, a private udpport), no lab: for the service tests."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HACF = "keepalive 200ms\ndeadtime 2\ninitdead 2\nudpport {port}\nucast lo 127.0.0.1\nauto_failback on\nnode n1 n2\n"
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


def stop_daemon(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`hbd stop` of the daemon started with daemon_args(tmp_path, ...); if that fails, SIGKILL it by its pid
    file, so that a broken stop fails the test without leaving the daemon running after it."""
    done = hbd("stop", "--socket", str(tmp_path / "hbd.sock"), "--timeout", "30")
    if done.returncode != 0:
        try:
            os.kill(int((tmp_path / "hbd.pid").read_text().split()[0]), 9)
        except (OSError, ValueError, IndexError):
            pass  # no pid file or no such process: nothing left to stop
    return done
