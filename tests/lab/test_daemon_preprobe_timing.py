"""The pre-probe at every timing, 10 ms / 50 ms included: a kill -9 of the active daemon never puts the VIP
on both nodes (the peer's kernel still answers, so the takeover refuses), and a power-off still moves the
group. How fast the takeover is, is a benchmark's figure (bench/failover_daemon.py), not asserted here."""
from __future__ import annotations

import time

import pytest

from daemon_lab import group_state, running_cluster

from hbd.lab.hbd_cluster import ClusterSettings

TIMINGS = {"10ms/50ms": (10, 50), "100ms/500ms": (100, 500)}


def settings(name: str) -> ClusterSettings:
    keepalive, deadtime = TIMINGS[name]
    return ClusterSettings(keepalive_ms=keepalive, deadtime_ms=deadtime, initdead_ms=max(2000, 4 * deadtime))


@pytest.mark.parametrize("timing", list(TIMINGS))
def test_kill_9_never_puts_the_vip_on_both_nodes(timing: str) -> None:
    s = settings(timing)
    with running_cluster(s) as (cluster, watcher, probe):
        cluster.kill9("n1")
        marker = f"CRIT: Giving up resources due to failure of IPaddr2::{s.vip}/24/eth0 start failed"
        deadline = time.monotonic() + s.deadtime_ms / 1000 + 15
        while marker not in cluster.log("n2") and time.monotonic() < deadline:
            time.sleep(0.05)
        log2 = cluster.log("n2")
        assert "WARN: node n1: is dead" in log2
        assert marker in log2, log2[-3000:]
        assert "were silent before the verdict" not in log2
        st2 = cluster.status("n2")
        assert st2 is not None and group_state(st2, s.group) == "stopped"
        assert not cluster.service_running("n2") and cluster.service_running("n1")
        assert probe.current() == "n1"
    # running_cluster's watcher checked on exit that the VIP was never on both nodes


@pytest.mark.parametrize("timing", list(TIMINGS))
def test_power_off_moves_the_group(timing: str) -> None:
    s = settings(timing)
    with running_cluster(s) as (cluster, watcher, probe):
        cluster.power_off("n1")
        assert probe.wait_for("n2", s.deadtime_ms / 1000 + 10), probe.transitions
        st2 = cluster.wait_owner("n2", timeout=10)
        assert group_state(st2, s.group) == "running"
