"""`hbd status` text shows a group's fail count, restarts and last failure (and nothing without failures);
the lab test (tests/lab/test_monitor_lab.py) checks the same fields of a real daemon's --json."""
from __future__ import annotations

from typing import Any

from hbd.cli.status_cmd import format_status

KEY = "IPaddr2::192.0.2.50/24/eth0"


def status(monitor: dict[str, Any] | None) -> dict[str, Any]:
    return {"version": "0", "node": "n1", "pid": 1, "uptime_s": 5.0, "phase": "running", "stable": True,
            "nodes": [], "groups": [{"key": KEY, "preferred": "n1", "owner": "n1", "state": "running",
                                     "resources": [], "monitor": monitor}],
            "transitions": [], "standby": None, "config_differs": []}


def test_failures_and_the_last_one_are_shown() -> None:
    text = format_status(status({"failures": 2, "restarts": 1, "checks": [], "last_failure": {
        "resource": "dbsvc", "reason": "stopped: dbsvc is dead", "time": "2026-12-07 12:00:00", "age_s": 3.0}}))
    assert ("fail count 2, restarts in window 1; last failure 2026-12-07 12:00:00: dbsvc: stopped: dbsvc is dead"
            in text)


def test_nothing_is_shown_without_failures_or_monitoring() -> None:
    for monitor in (None, {"failures": 0, "restarts": 0, "last_failure": None, "checks": []}):
        assert "fail count" not in format_status(status(monitor))
