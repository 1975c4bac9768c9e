"""Regression test of issue 9's bug 8 through the logging interface that existed before the fix (f89f2ea):
`logsetup.configure` and `log_hb`. After `mv ha-log ha-log.1` the daemon's lines kept going to ha-log.1.
It fails by assertion on the tree before the fix (dev/check_regressions.py checks that)."""
from __future__ import annotations

import logging
import time
from pathlib import Path

from hbd.runtime import logsetup

LOG = logging.getLogger("hbd.test.logfile_regressions")
WAIT_S = 5.0  # the log writer may be a thread: wait (bounded) for the line to land somewhere


def landed(text: str, *paths: Path) -> list[Path]:
    deadline = time.monotonic() + WAIT_S
    while True:
        found = [p for p in paths if p.exists() and text in p.read_text()]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.01)


def test_lines_after_logrotate_renamed_the_file_go_to_the_new_file(tmp_path: Path) -> None:
    log, rotated = tmp_path / "ha-log", tmp_path / "ha-log.1"
    try:
        assert logsetup.configure("alice", logsetup.LogTargets(str(log))) == []
        logsetup.log_hb(LOG, "info", "before rotation")
        assert landed("before rotation", log) == [log]
        log.rename(rotated)  # logrotate without copytruncate
        logsetup.log_hb(LOG, "info", "after rotation")
        assert landed("after rotation", log, rotated) == [log]
    finally:
        logsetup.configure("alice", logsetup.LogTargets())
