"""The daemon in the lab: power-off of the active node, graceful stop, reboot and rejoin (auto_failback on
and off), simultaneous start; the invariant watcher runs throughout (the VIP is never on two nodes)."""
from __future__ import annotations

import dataclasses
import time

import pytest

from daemon_lab import FAST, group_state, lab_cluster, longest_outage, running_cluster, watched


def test_power_off_of_the_active_node_moves_the_group(capsys: pytest.CaptureFixture[str]) -> None:
    with running_cluster() as (cluster, watcher, probe):
        cluster.power_off("n1")
        off = time.monotonic()
        assert probe.wait_for("n2", 10), probe.transitions
        answered = time.monotonic() - off
        status = cluster.wait_owner("n2", timeout=5)
        assert group_state(status, cluster.settings.group) == "running"
        assert cluster.service_running("n2")
        log = cluster.log("n2")
        assert "WARN: node n1: is dead" in log
        assert "info: Resources being acquired from n1." in log
        assert f"info: Acquiring resource group: {cluster.settings.group} (n1 is dead)" in log
        with capsys.disabled():
            print(f"\npower-off: VIP answers from n2 {answered:.3f} s after the power-off "
                  f"(client outage {longest_outage(probe):.3f} s, deadtime {FAST.deadtime_ms} ms)")
        assert probe.answerers() == ["n1", "n2"]


def test_graceful_stop_hands_over_at_once() -> None:
    with running_cluster() as (cluster, watcher, probe):
        assert cluster.stop("n1") == 0
        cluster.wait_owner("n2", timeout=10)
        log1, log2 = cluster.log("n1"), cluster.log("n2")
        assert "info: Giving up all HA resources." in log1 and "info: All HA resources relinquished." in log1
        assert "info: Received shutdown notice from 'n1'." in log2
        assert not cluster.service_running("n1")
        # later, at deadtime, the peer is dead but gave up its resources: no STONITH warning
        deadline = time.monotonic() + FAST.deadtime_ms / 1000 + 3
        while "Dead node n1 gave up resources." not in cluster.log("n2") and time.monotonic() < deadline:
            time.sleep(0.05)
        log2 = cluster.log("n2")
        assert "info: Dead node n1 gave up resources." in log2
        assert "No STONITH device configured" not in log2
        # the takeover came with the shutdown notice, before deadtime ran out
        assert log2.index(f"Resource group {cluster.settings.group} started.") < log2.index("WARN: node n1: is dead")
        assert probe.answerers() == ["n1", "n2"]


@pytest.mark.parametrize("auto_failback", ["on", "off"])
def test_reboot_of_the_preferred_node_rejoins(auto_failback: str) -> None:
    settings = dataclasses.replace(FAST, auto_failback=auto_failback)
    with running_cluster(settings) as (cluster, watcher, probe):
        cluster.power_off("n1")
        assert probe.wait_for("n2", 10), probe.transitions
        cluster.wait_owner("n2", timeout=5)
        cluster.lab.boot("n1")
        cluster.start("n1")
        if auto_failback == "on":
            cluster.wait_owner("n1", timeout=15)
            assert probe.wait_for("n1", 5), probe.transitions
            assert not cluster.service_running("n2")
        else:
            st = cluster.wait_status("n1", lambda s: s["phase"] == "running" and s["stable"]
                                     and cluster.owner(s) == "n2", timeout=15)
            assert group_state(st, settings.group) == "stopped"
            time.sleep(2 * FAST.keepalive_ms / 1000 * 5)  # a few exchanges later it still stays on n2
            assert cluster.owner(cluster.status("n2")) == "n2" and cluster.service_running("n2")
            assert probe.current() == "n2"


def test_simultaneous_start_gives_the_group_to_its_node_without_a_blind_wait() -> None:
    with lab_cluster() as cluster, watched(cluster) as (watcher, probe):
        cluster.start("n1")
        cluster.start("n2")
        st = cluster.wait_owner("n1", timeout=20)
        # Heartbeat waits RQSTDELAY (10 s) after comm-up when both nodes start together; two hbd nodes need not
        heard = min(t["monotonic"] for t in st["transitions"] if t["text"].startswith("node n2: "))
        started = next(t["monotonic"] for t in st["transitions"] if t["text"].startswith("start "))
        assert started - heard < 5, st["transitions"]
        cluster.wait_owner("n1", timeout=5, ask="n2")
        assert probe.wait_for("n1", 5)
        assert not cluster.service_running("n2")
        assert probe.answerers() == ["n1"]
