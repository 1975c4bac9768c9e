"""Link of the VIP interfaces (doc/monitoring.md, "Link of the VIP interfaces"): two nodes, two media, the
VIP group on n1 (its address on eth0). The switch-side end of n1's eth0 cable goes down (inside the lab's
switch namespace): n1's eth0 loses carrier, the heartbeats still flow on eth1. n1 logs the link line and
hands the group to n2 by the standby exchange; the client reaches the VIP on n2; the invariant watcher
never sees the VIP on both nodes."""
from __future__ import annotations

import time

import pytest

from daemon_lab import FAST, lab_cluster, watched


def test_carrier_lost_on_the_vip_interface_moves_the_group_to_the_peer(capsys: pytest.CaptureFixture[str]) -> None:
    with lab_cluster(FAST) as cluster:
        group = cluster.settings.group
        cluster.start("n1")
        cluster.start("n2")
        cluster.wait_owner("n1", timeout=20)
        cluster.wait_owner("n1", timeout=10, ask="n2")
        for node, peer in (("n1", "n2"), ("n2", "n1")):  # both watch eth0 and know the peer has carrier there
            cluster.wait_status(node, lambda st: st.get("vip_links", {}).get("down_on_peer") == [], timeout=10)
        with watched(cluster) as (watcher, probe):
            assert probe.wait_for("n1", 5), probe.transitions
            cluster.wait_configured_deadtime("n2", "n1")
            cluster.lab.cut("n1", 0)  # the switch port of n1's eth0: n1 loses carrier there, eth1 still up
            cut = time.monotonic()
            assert probe.wait_for("n2", 15), f"the group stayed on n1: {probe.transitions}"
            taken = time.monotonic() - cut
            cluster.wait_owner("n2", timeout=5, ask="n2")
            log1 = cluster.log("n1")
            assert "link: eth0 lost carrier" in log1
            assert f"link: group {group}: no carrier on its VIP interface here (eth0): handing it to n2" in log1
            st = cluster.wait_status("n1", lambda st: st["vip_links"]["down_here"] == [group], timeout=5)
            eth0 = next(i for i in st["vip_links"]["interfaces"] if i["name"] == "eth0")
            assert eth0["carrier"] is False and eth0["groups"] == [group]
            assert cluster.status("n2")["vip_links"]["down_on_peer"] == [group]  # type: ignore[index]
            with capsys.disabled():
                print(f"\nlink: the client reached the VIP on n2 {taken:.3f} s after n1's eth0 lost carrier")
