"""`hbd stop` against a real daemon on the loopback: graceful, waits for the exit, reports; 3 when not running."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from hbd.cli import stop_cmd
from hbd.runtime.process import read_pid
from tests.unit.service_daemon import daemon_args, free_udp_port, hbd, write_config

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: SO_BINDTODEVICE on the heartbeat socket")


def test_stop_waits_for_the_daemon_and_exits_0(tmp_path: Path) -> None:
    config = write_config(tmp_path, free_udp_port())
    started = hbd(*daemon_args(tmp_path, config))  # daemonizes; returns once the daemon runs
    assert started.returncode == 0, started.stderr
    pid = read_pid(tmp_path / "hbd.pid")
    assert pid is not None
    sock = str(tmp_path / "hbd.sock")
    try:
        assert hbd("status", "--socket", sock).returncode == 0
        done = hbd("stop", "--socket", sock, "--timeout", "30")
        assert done.returncode == 0, done.stderr
        assert re.fullmatch(rf"hbd stopped \(pid {pid}, [0-9.]+ s\): held no group\n", done.stdout), done.stdout
        assert not stop_cmd.alive(pid)  # gone (or a zombie waiting for its reaper) when stop returns
        again = hbd("stop", "--socket", sock)
        assert again.returncode == 3 and "not running" in again.stderr
    finally:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
