"""Heartbeat's ipfail rule in the daemon (doc/daemon.md, "The better-connected node holds the groups"): the
ping node is the lab's client; a filter in n1's namespace drops the client's ICMP to n1 only (n1 reaches 0
ping nodes, n2 still 1, the heartbeat media untouched). n1 hands the group over by the standby exchange; the
client reaches the VIP on n2; the invariant watcher never sees the VIP on both nodes."""
from __future__ import annotations

import time

import pytest

from daemon_lab import FAST, lab_cluster, watched
from hbd.core.ipfail import IPFAIL_ROUNDS
from hbd.lab.shell import run

DEADPING_MS = 500


def drop_client_icmp(netns: str, client: str) -> None:
    script = ("table inet hbdping {\n  chain input {\n    type filter hook input priority 0; policy accept;\n"
              f"    ip saddr {client} ip protocol icmp drop\n  }}\n}}\n")
    run(["ip", "netns", "exec", netns, "nft", "-f", "-"], input=script)


def test_ping_node_lost_by_the_active_node_only_moves_the_group(capsys: pytest.CaptureFixture[str]) -> None:
    with lab_cluster(FAST) as cluster:
        client = cluster.lab.client_address
        cluster.write_config(hacf_extra=f"ping {client}\ndeadping {DEADPING_MS}ms\n")
        cluster.start("n1")
        cluster.start("n2")
        cluster.wait_owner("n1", timeout=20)
        cluster.wait_owner("n1", timeout=10, ask="n2")
        with watched(cluster) as (watcher, probe):
            assert probe.wait_for("n1", 5), probe.transitions
            cluster.wait_configured_deadtime("n2", "n1")
            for node in ("n1", "n2"):
                assert "ping nodes reachable: 1 of 1" in cluster.log(node)
            drop_client_icmp(cluster.lab.netns("n1"), client)
            cut = time.monotonic()
            assert probe.wait_for("n2", 15), f"the group stayed on n1: {probe.transitions}"
            taken = time.monotonic() - cut
            cluster.wait_owner("n2", timeout=5, ask="n2")
            log1 = cluster.log("n1")
            assert "ipfail: n2 reaches more ping nodes (1) than this node (0)" in log1
            assert "isolated:" not in log1  # the peer is heard: not the isolation rule
            with capsys.disabled():
                print(f"\nipfail: the client reached the VIP on n2 {taken:.3f} s after n1 lost its ping node "
                      f"(deadping {DEADPING_MS} ms, hold {IPFAIL_ROUNDS} x keepalive {FAST.keepalive_ms} ms)")
