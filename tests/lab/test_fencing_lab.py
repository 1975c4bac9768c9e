"""Fencing in the lab: the survivor fences the dead active node through the lab's power switch before it
takes over; while fencing fails nothing is taken over; `hbd fence-ack` releases the takeover."""
from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest

from daemon_lab import FAST, group_state, lab_cluster, watched
from hbd.lab.hbd_cluster import HbdCluster
from hbd.lab.power_switch import PowerSwitch
from hbd.lab.probes import VipProbe

FENCE_DELAY_S = 1.0


@contextlib.contextmanager
def fenced_cluster() -> Iterator[tuple[HbdCluster, PowerSwitch, VipProbe]]:
    with lab_cluster() as cluster, PowerSwitch(cluster.lab) as switch:
        cluster.write_config(hacf_extra=f"stonith_host * fence_hbdlab socket={switch.path}\n"
                                        f"fence_delay {FENCE_DELAY_S:g}\n")
        cluster.start("n1")
        cluster.start("n2")
        cluster.wait_owner("n1", timeout=20)
        cluster.wait_owner("n1", timeout=10, ask="n2")
        with watched(cluster) as (watcher, probe):
            assert probe.wait_for("n1", 5), probe.transitions
            cluster.wait_configured_deadtime("n2", "n1")
            yield cluster, switch, probe


def wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


def test_the_survivor_fences_the_dead_active_node_before_taking_over(capsys: pytest.CaptureFixture[str]) -> None:
    with fenced_cluster() as (cluster, switch, probe):
        assert cluster.cli("n2", ["hbd", "fence-ack", "n1"]).returncode == 1  # nothing waits to be fenced
        cluster.power_off("n1")
        off = time.monotonic()
        assert probe.wait_for("n2", 20), probe.transitions
        answered = time.monotonic() - off
        status = cluster.wait_owner("n2", timeout=5)
        assert group_state(status, cluster.settings.group) == "running"
        assert switch.fenced() == ["n1"]
        log = cluster.log("n2")
        fenced_at = log.index("STONITH: n1 fenced by method line")
        assert log.index(f"STONITH: waiting {FENCE_DELAY_S:g} s before fencing n1") < fenced_at
        assert fenced_at < log.index("info: node n1 now reset.") < log.index("Acquiring resource group")
        assert "No STONITH device configured" not in log
        stonith_line = len(cluster.settings.hacf(cluster.lab.nodes).splitlines()) + 1
        assert status["fencing"]["last"] == f"n1 fenced by method line {stonith_line}"
        with capsys.disabled():
            print(f"\nfence then takeover: VIP answers from n2 {answered:.3f} s after the power-off of n1 "
                  f"(deadtime {FAST.deadtime_ms} ms, fence delay {FENCE_DELAY_S:g} s)")


def test_no_takeover_while_fencing_fails_and_fence_ack_releases_it() -> None:
    with fenced_cluster() as (cluster, switch, probe):
        switch.broken = True
        cluster.power_off("n1")
        # at least three failed attempts (the delay, then one every 5 s would be slow: count the requests)
        wait_for(lambda: cluster.log("n2").count("STONITH: fencing n1 failed") >= 2, 30, "two failed fence attempts")
        status = cluster.status("n2")
        assert status is not None and group_state(status, cluster.settings.group) == "stopped"
        assert not cluster.service_running("n2") and probe.current() != "n2"
        assert "Acquiring resource group" not in cluster.log("n2")
        ack = cluster.cli("n2", ["hbd", "fence-ack", "n1"])
        assert ack.returncode == 0, ack.stderr
        assert "acknowledged" in ack.stdout
        assert probe.wait_for("n2", 15), probe.transitions
        status = cluster.wait_owner("n2", timeout=5)
        log = cluster.log("n2")
        assert log.index("fencing of n1 acknowledged by hand") < log.index("Acquiring resource group")
        assert "n1" in cluster.lab.state["powered_off"]  # the broken switch never reached it
