"""Isolation of the active node (doc/daemon.md, "Ping nodes and isolation"): the ping node is the lab's client;
every medium of n1 (and with them its path to the client) is cut by the switch's filter. n1 releases the group
within the stated bound, n2 takes over, and the invariant watcher never sees the VIP on both nodes."""
from __future__ import annotations

import socket
import time

import pytest

from daemon_lab import FAST, lab_cluster, watched
from hbd.lab import netns
from hbd.lab.hbd_cluster import HbdCluster

DEADPING_MS = 500  # below deadtime (1000 ms): the release is complete before the survivor's takeover


def vip_on(cluster: HbdCluster, node: str) -> bool:
    """Whether the node holds the VIP (a socket binds only to an address the node has)."""
    def probe() -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind((cluster.settings.vip, 0))
                return True
            except OSError:
                return False
    return netns.call_in(cluster.lab.netns(node), probe)


def test_isolated_active_node_releases_within_the_bound_and_the_survivor_takes_over(
        capsys: pytest.CaptureFixture[str]) -> None:
    with lab_cluster(FAST) as cluster:
        cluster.write_config(hacf_extra=f"ping {cluster.lab.client_address}\ndeadping {DEADPING_MS}ms\n")
        cluster.start("n1")
        cluster.start("n2")
        cluster.wait_owner("n1", timeout=20)
        cluster.wait_owner("n1", timeout=10, ask="n2")
        with watched(cluster) as (watcher, probe):
            assert probe.wait_for("n1", 5), probe.transitions
            cluster.wait_configured_deadtime("n2", "n1")
            assert "ping nodes reachable: 1 of 1" in cluster.log("n1")
            cluster.lab.cut("n1", how="filter")  # every medium, the client's network with them
            cut = time.monotonic()
            released = None
            deadline = cut + 10
            while time.monotonic() < deadline:
                if released is None and not vip_on(cluster, "n1"):
                    released = time.monotonic() - cut
                if released is not None:
                    break
                time.sleep(0.005)
            assert released is not None, "n1 kept the VIP while isolated"
            assert probe.wait_for("n2", 10), probe.transitions
            taken = time.monotonic() - cut
            cluster.wait_owner("n2", timeout=5, ask="n2")
            log1 = cluster.log("n1")
            assert "isolated: no ping node answers and peer n2 is" in log1
            # the bound: max(deadping, warntime) + keepalive, plus the stop of the group
            bound_s = (max(DEADPING_MS, FAST.deadtime_ms // 2) + FAST.keepalive_ms) / 1000 + 0.5
            assert released <= bound_s, f"released after {released:.3f} s, bound {bound_s:.3f} s"
            with capsys.disabled():
                print(f"\nisolation: n1 released the VIP {released:.3f} s after the cut; the client reached it on "
                      f"n2 {taken:.3f} s after the cut (deadtime {FAST.deadtime_ms} ms, deadping {DEADPING_MS} ms, "
                      f"keepalive {FAST.keepalive_ms} ms)")
