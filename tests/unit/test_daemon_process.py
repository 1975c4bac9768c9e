"""The daemon's process helpers: the pid lock keeps a second daemon out, even after the first was killed
without cleaning up; logging in Heartbeat's formats; systemd notifications."""
from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hbd.runtime import logsetup
from hbd.runtime.notify import Notifier, watchdog_interval_s
from hbd.runtime.process import AlreadyRunning, PidLock, read_pid


def test_second_lock_is_refused_with_the_holder_pid(tmp_path: Path) -> None:
    first = PidLock(tmp_path / "hbd.pid")
    first.acquire()
    assert read_pid(tmp_path / "hbd.pid") == os.getpid()
    with pytest.raises(AlreadyRunning, match=f"pid {os.getpid()}"):
        PidLock(tmp_path / "hbd.pid").acquire()
    first.release()
    assert read_pid(tmp_path / "hbd.pid") is None
    second = PidLock(tmp_path / "hbd.pid")
    second.acquire()
    second.release()


def test_a_killed_holder_leaves_a_file_that_does_not_block(tmp_path: Path) -> None:
    pidfile = tmp_path / "hbd.pid"
    code = (f"from hbd.runtime.process import PidLock; from pathlib import Path; import os\n"
            f"PidLock(Path({str(pidfile)!r})).acquire(); os.kill(os.getpid(), 9)")
    done = subprocess.run([sys.executable, "-c", code], timeout=30)
    assert done.returncode == -9 and pidfile.exists()
    assert read_pid(pidfile) is None
    lock = PidLock(pidfile)
    lock.acquire()
    lock.release()


def test_log_lines_in_heartbeat_format(tmp_path: Path) -> None:
    logfile, debugfile = tmp_path / "ha-log", tmp_path / "ha-debug"
    assert logsetup.configure("alice", logsetup.LogTargets(str(logfile), str(debugfile))) == []
    log = logging.getLogger("hbd.test")
    logsetup.log_hb(log, "WARN", "node bob: is dead")
    logsetup.log_hb(log, "debug", "a detail")
    log.error("plain error")
    for handler in logging.getLogger("hbd").handlers:
        handler.flush()
    pattern = r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d alice hbd: \[\d+\]: "
    lines = logfile.read_text().splitlines()
    assert len(lines) == 2
    assert re.match(pattern + r"WARN: node bob: is dead$", lines[0]), lines[0]
    assert re.match(pattern + r"ERROR: plain error$", lines[1]), lines[1]
    debug = debugfile.read_text()
    assert "debug: a detail" in debug and "WARN: node bob: is dead" in debug
    logsetup.configure("alice", logsetup.LogTargets())


def test_log_targets_that_cannot_be_opened_are_reported(tmp_path: Path) -> None:
    problems = logsetup.configure("alice", logsetup.LogTargets(str(tmp_path / "no" / "dir" / "log"),
                                                               facility="nosuchfacility"))
    assert len(problems) == 2 and "cannot open log file" in problems[0] and "nosuchfacility" in problems[1]
    logsetup.configure("alice", logsetup.LogTargets())


def test_syslog_format() -> None:
    record = logging.LogRecord("hbd.x", logging.WARNING, __file__, 1, "node %s: is dead", ("bob",), None)
    assert logsetup.SyslogFormatter().format(record) == f"hbd: [{os.getpid()}]: WARN: node bob: is dead"


def test_notifier_sends_ready_once_status_on_change_and_watchdog(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))  # sdnotify reads it from the environment
        notifier = Notifier()
        notifier.ready("running: holding g1")
        notifier.ready("again")
        notifier.status("running: holding g1")  # unchanged: not sent
        notifier.status("running: holding nothing")
        notifier.watchdog()
        got = [sock.recv(4096).decode() for _ in range(3)]
    assert got == ["READY=1\nSTATUS=running: holding g1", "STATUS=running: holding nothing", "WATCHDOG=1"]
    assert not Notifier({}).enabled


def test_watchdog_interval() -> None:
    assert watchdog_interval_s({"WATCHDOG_USEC": "4000000"}) == 2.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval_s({}) is None and watchdog_interval_s({"WATCHDOG_USEC": "x"}) is None
