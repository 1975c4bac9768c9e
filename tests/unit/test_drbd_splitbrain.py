"""DRBD split brain from drbdadm's output (8.4 and 9 forms, as recorded from real DRBD): `hbd status`'s
entry and text, the watch's CRIT log and alerts (once per episode), and the guard on a StandAlone disk."""
from __future__ import annotations

import asyncio
import subprocess
from typing import Any

import pytest

from hbd.agents.drbddisk import refusal
from hbd.runtime.alerts import Alert
from hbd.runtime.drbd_splitbrain import SplitBrainWatch, is_split_brain, standalone_peers
from hbd.runtime.drbd_status import format_lines, query

# What `drbdadm role|dstate|cstate r0` print on the node that stayed Secondary after DRBD dropped the
# connection ("Split-Brain detected but unresolved, dropping connection!" in the kernel log).
DRBD84 = {"role": "Secondary/Unknown\n", "dstate": "UpToDate/DUnknown\n", "cstate": "StandAlone\n"}
# DRBD 9: `role` has no peer part; cstate prints the same word.
DRBD9 = {"role": "Primary\n", "dstate": "UpToDate/DUnknown\n", "cstate": "StandAlone\n"}
DRBD9_STATUS = "r0 role:Primary\n  disk:UpToDate\n  n2 connection:StandAlone\n\n"
DRBD9_STATUS_OK = "r0 role:Primary\n  disk:UpToDate\n  n2 role:Secondary\n    peer-disk:UpToDate\n\n"
DRBD9_STATUS_CONNECTING = "r0 role:Secondary\n  disk:UpToDate\n  n2 connection:Connecting\n\n"


def runner(outputs: dict[str, str]):  # type: ignore[no-untyped-def]
    def run(argv: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 0, outputs[argv[1]], "")
    return run


@pytest.mark.parametrize("outputs,role,peer_role", [(DRBD84, "Secondary", "Unknown"), (DRBD9, "Primary", None)])
def test_a_standalone_connection_is_a_split_brain_in_status(outputs: dict[str, str], role: str,
                                                           peer_role: str | None) -> None:
    entry = query("r0", runner(outputs))
    assert entry["split_brain"] is True and entry["connection"] == "StandAlone" and entry["role"] == role
    assert entry["peer_role"] == peer_role
    lines = format_lines([entry])
    assert lines[2].split() == ["r0", "SPLIT", "BRAIN:", "DRBD", "resource", "r0:", "connection", "StandAlone:",
                                "split", "brain", "unresolved", "(or", "disconnected", "by", "hand);", "it", "is",
                                "not", "promoted", "here", "unless", "forced;", "see", "hbd", "splitbrain", "plan",
                                "r0"]


@pytest.mark.parametrize("cstate", ["Connected", "WFConnection", "Connecting", "Disconnecting"])
def test_other_connection_states_are_not(cstate: str) -> None:
    entry = query("r0", runner({**DRBD84, "cstate": f"{cstate}\n"}))
    assert entry["split_brain"] is False and len(format_lines([entry])) == 2


def test_drbd9_status_names_the_standalone_peer() -> None:
    assert standalone_peers(DRBD9_STATUS) == ("n2",)
    assert standalone_peers(DRBD9_STATUS_OK) == () and standalone_peers(DRBD9_STATUS_CONNECTING) == ()
    assert is_split_brain("StandAlone") and not is_split_brain(None)


def test_the_guard_refuses_a_standalone_disk_unless_forced() -> None:
    why = refusal("r0", "UpToDate", "StandAlone")
    assert why is not None and "StandAlone" in why and "touch /run/hbd/drbd-force-r0" in why
    assert refusal("r0", "UpToDate", "WFConnection") is None


def test_the_watch_logs_and_alerts_once_per_episode(caplog: pytest.LogCaptureFixture) -> None:
    alerts: list[Alert] = []
    watch = SplitBrainWatch(("r0",), lambda r: {}, alerts.append, "n1")
    standalone = {"resource": "r0", "connection": "StandAlone", "split_brain": True}
    with caplog.at_level("INFO", logger="hbd.drbd"):
        watch.seen([standalone])
        watch.seen([standalone])
        watch.seen([{"resource": "r0", "error": "drbdadm cstate r0: timed out"}])  # nothing known: no change
        watch.seen([{"resource": "r0", "connection": "Connected", "split_brain": False}])
        watch.seen([standalone])
    assert [(a.kind, a.event) for a in alerts] == [("split_brain", "drbd_standalone"),
                                                  ("split_brain", "drbd_connected"),
                                                  ("split_brain", "drbd_standalone")]
    assert alerts[0].node == "n1" and "split brain unresolved" in alerts[0].desc and alerts[0].rc == 1
    crit = [r for r in caplog.records if getattr(r, "hb_level", "") == "CRIT"]
    assert len(crit) == 2, [r.getMessage() for r in caplog.records]


def test_the_watch_looks_again_soon_after_the_peer_returns() -> None:
    answers = iter(["WFConnection", "WFConnection", "StandAlone"])
    asked: list[float] = []
    alerts: list[Alert] = []

    def ask(resource: str) -> dict[str, Any]:
        asked.append(0.0)
        return {"resource": resource, "connection": next(answers, "StandAlone")}

    async def scenario() -> None:
        watch = SplitBrainWatch(("r0",), ask, alerts.append, "n1")
        watch.start(asyncio.get_running_loop())
        for _ in range(100):  # the first look, at start
            if asked:
                break
            await asyncio.sleep(0.01)
        watch.peer_back()
        for _ in range(600):  # two burst intervals, bounded
            if alerts:
                break
            await asyncio.sleep(0.01)
        watch.close()

    asyncio.run(scenario())
    assert [a.event for a in alerts] == ["drbd_standalone"] and len(asked) == 3


def test_a_stop_for_double_ownership_is_a_split_brain_alert_then_the_stop() -> None:
    from hbd.core import ownership_types as o
    from hbd.runtime.alerts import AlertRunner

    runner = AlertRunner([], 10, "n2", "n1")
    seen: list[Alert] = []
    runner.emit = seen.append  # type: ignore[method-assign]
    runner.ownership(o.StopGroup("192.0.2.10", "also held by n1, its preferred node", o.Cause.DOUBLE_OWNERSHIP))
    runner.ownership(o.StopGroup("192.0.2.10", "standby", o.Cause.HANDOVER))
    assert [(a.kind, a.event, a.group) for a in seen] == [
        ("split_brain", "double_ownership", "192.0.2.10"), ("resource", "stop", "192.0.2.10"),
        ("resource", "stop", "192.0.2.10")]
    assert seen[0].desc == "n1 holds 192.0.2.10 too and keeps it: stopping it here" and seen[0].rc == 1
