"""The daemon's exit codes, one per kind of start failure (hbd/cli/exit_codes.py), foreground and daemonizing.

etc/hbd.service relies on them: RestartPreventExitStatus=6 stops a restart loop on a broken ha.cf.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from hbd.cli import daemon_cmd
from hbd.cli.exit_codes import DaemonExit
from hbd.runtime.process import PidLock
from tests.unit.service_daemon import daemon_args, free_udp_port, hbd, write_config

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: SO_BINDTODEVICE on the heartbeat socket")


def test_unusable_configuration_is_6(tmp_path: Path) -> None:
    config = write_config(tmp_path, free_udp_port())
    (config / "ha.cf").write_text("keepalive 1\ndeadtime 10\nbcast nosuch0\nnode n1 n2\n")
    for extra in (["-f"], []):
        done = hbd(*extra, *daemon_args(tmp_path, config))
        assert done.returncode == DaemonExit.CONFIG == 6, done.stderr
        assert "ha.cf:3: error: bcast nosuch0" in done.stderr


def test_already_running_is_75(tmp_path: Path) -> None:
    config = write_config(tmp_path, free_udp_port())
    holder = PidLock(tmp_path / "hbd.pid")
    holder.acquire()
    try:
        done = hbd("-f", *daemon_args(tmp_path, config))
    finally:
        holder.release()
    assert done.returncode == DaemonExit.ALREADY_RUNNING == 75, done.stderr
    assert f"already running (pid {os.getpid()}" in done.stderr


@pytest.mark.parametrize("foreground", [True, False])
def test_a_medium_that_cannot_be_opened_is_69(tmp_path: Path, foreground: bool) -> None:
    port = free_udp_port()
    config = write_config(tmp_path, port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", port))  # the heartbeat port is in use
        done = hbd(*(["-f"] if foreground else []), *daemon_args(tmp_path, config))
    # Daemonizing: the parent waits for the daemon's start result and exits with it.
    assert done.returncode == DaemonExit.MEDIUM == 69, done.stderr
    assert "cannot open heartbeat media: Address already in use" in done.stderr
    assert not (tmp_path / "hbd.pid").exists()


def test_a_bug_is_70_with_its_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, free_udp_port())

    class Broken:
        def __init__(self, *args: object) -> None:
            pass

        async def run(self) -> None:
            raise RuntimeError("a bug in the daemon")

    monkeypatch.setattr(daemon_cmd, "Daemon", Broken)
    monkeypatch.setattr(daemon_cmd, "set_process_name", lambda name: None)  # not rename pytest itself
    monkeypatch.setattr(daemon_cmd.faulthandler, "register", lambda *a, **k: None)
    monkeypatch.setattr(daemon_cmd.logsetup, "configure", lambda *a, **k: [])
    code = daemon_cmd.main(["-f", *daemon_args(tmp_path, config)])
    assert code == DaemonExit.INTERNAL == 70
    assert not (tmp_path / "hbd.pid").exists()


def test_the_unit_keeps_systemd_from_restarting_a_broken_configuration() -> None:
    unit = (Path(__file__).resolve().parents[2] / "etc" / "hbd.service").read_text()
    lines = {line.split("=", 1)[0]: line.split("=", 1)[1] for line in unit.splitlines() if "=" in line
             and not line.startswith("#")}
    assert lines["RestartPreventExitStatus"].split() == [str(int(DaemonExit.CONFIG))]
    assert lines["Restart"] == "on-failure"
    assert lines["KillMode"] == "process"
    assert lines["Type"] == "notify" and "WatchdogSec" in lines and lines["ExecReload"].endswith("hbd reload")
