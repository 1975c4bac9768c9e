"""The daemon's log files: never world-readable, followed across logrotate's rename, reopened on request,
and written by a thread so that a slow disk never holds up the heartbeat loop (hbd/runtime/logsetup.py)."""
from __future__ import annotations

import logging
import os
import stat
import threading
import time
from pathlib import Path

from hbd.runtime import logsetup

LOG = logging.getLogger("hbd.test.logfiles")


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_log_file_is_created_without_world_access_and_an_old_0644_file_loses_it(tmp_path: Path) -> None:
    old = tmp_path / "ha-debug"
    old.write_text("")
    os.chmod(old, 0o644)
    try:
        assert logsetup.configure("alice", logsetup.LogTargets(str(tmp_path / "ha-log"), str(old))) == []
        logsetup.log_hb(LOG, "info", "hello")
        logsetup.flush()
        for path in (tmp_path / "ha-log", old):
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode & 0o007 == 0 and mode & 0o600 == 0o600, oct(mode)
        if os.geteuid() == 0:
            assert (tmp_path / "ha-log").stat().st_gid == logsetup.log_group()
    finally:
        logsetup.configure("alice", logsetup.LogTargets())


def test_lines_after_a_rename_go_to_the_new_file_and_reopen_works_too(tmp_path: Path) -> None:
    log = tmp_path / "ha-log"
    try:
        logsetup.configure("alice", logsetup.LogTargets(str(log)))
        logsetup.log_hb(LOG, "info", "before rotation")
        logsetup.flush()
        log.rename(tmp_path / "ha-log.1")  # logrotate without copytruncate
        logsetup.reopen()  # what SIGHUP and `hbd reload` do first
        logsetup.log_hb(LOG, "info", "after rotation")
        logsetup.flush()
        assert [x.endswith("after rotation") for x in lines(log)] == [True]
        assert [x.endswith("before rotation") for x in lines(tmp_path / "ha-log.1")] == [True]
        (log).rename(tmp_path / "ha-log.2")  # and without a reopen: noticed at the next line
        logsetup.log_hb(LOG, "info", "unannounced rotation")
        logsetup.flush()
        assert [x.endswith("unannounced rotation") for x in lines(log)] == [True]
    finally:
        logsetup.configure("alice", logsetup.LogTargets())


class SlowHandler(logging.Handler):
    """A log target stuck like a write waiting on a journal commit."""

    def __init__(self, release: threading.Event) -> None:
        super().__init__()
        self.gate = release
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.gate.wait(5)
        self.seen.append(record.getMessage())


def test_a_stuck_log_target_does_not_block_the_caller(tmp_path: Path) -> None:
    try:
        logsetup.configure("alice", logsetup.LogTargets(str(tmp_path / "ha-log")))
        release = threading.Event()
        slow = SlowHandler(release)
        assert logsetup._listener is not None
        logsetup._listener.handlers = (*logsetup._listener.handlers, slow)
        started = time.monotonic()
        for i in range(200):
            logsetup.log_hb(LOG, "info", f"line {i}")
        took = time.monotonic() - started
        release.set()
        logsetup.flush()
        assert took < 1.0, took  # the writer is stuck for 5 s; the caller never waited for it
        assert len(slow.seen) == 200
    finally:
        logsetup.configure("alice", logsetup.LogTargets())
