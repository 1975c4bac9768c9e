"""What the daemon tells the operator matches what happened (issue 9), in the lab: after a kill -9 of the
active daemon and a refused takeover, hbd-standby still moves the group and says so (bug 1); after a
partition heals, the node that keeps the VIP announces it again, so the client reaches it at once (bug 5);
a group found partly running at start-up is completed and status shows each resource (bug 4)."""
from __future__ import annotations

import time

from daemon_lab import FAST, group_state, lab_cluster, running_cluster
from kill9_standby import kill9_then_standby

from hbd.lab.hbd_cluster import SERVICE_STATE
from hbd.lab.probes import VipProbe


def test_kill_9_then_standby_moves_the_group_both_ways_and_reports_it() -> None:
    with running_cluster() as (cluster, watcher, probe):
        outcome = kill9_then_standby(cluster, FAST.deadtime_ms / 1000)
        assert outcome.refused_takeover, cluster.log("n2")[-3000:]
        for move in outcome.moves:
            assert move.rc == 0 and move.moved, (move, cluster.log("n1")[-3000:], cluster.log("n2")[-3000:])
        assert "failed to start on both nodes" not in cluster.log("n2")


def test_standby_to_a_peer_whose_start_fails_exits_1_and_says_why() -> None:
    with running_cluster() as (cluster, watcher, probe):
        cluster.service_fault("n2", "start")
        done = cluster.cli("n1", ["hbd-standby"], timeout=60)
        assert done.returncode == 1, (done.stdout, done.stderr)
        assert "n2 did not start" in done.stderr and "started here again" in done.stderr, done.stderr
        cluster.wait_owner("n1", timeout=20)
        assert cluster.service_running("n1") and not cluster.service_running("n2")


def _client_mac(cluster, vip: str) -> str | None:
    out = cluster.lab.client_exec(["ip", "neigh", "show", vip], check=False).stdout.split()
    return out[out.index("lladdr") + 1] if "lladdr" in out else None


def _node_mac(cluster, node: str) -> str:
    return cluster.lab.exec(node, ["cat", "/sys/class/net/eth0/address"]).stdout.strip()


def test_after_a_partition_heals_the_keeper_announces_the_vip_again() -> None:
    """Without the announcement the client kept n2's MAC for ~30 s (until its ARP entry went stale)."""
    with lab_cluster() as cluster:
        cluster.start("n1")
        cluster.start("n2")
        cluster.wait_owner("n1", timeout=20)
        cluster.wait_owner("n1", timeout=10, ask="n2")
        cluster.wait_configured_deadtime("n2", "n1")
        with VipProbe(cluster.lab, cluster.settings.vip, interval=0.02) as probe:
            assert probe.wait_for("n1", 5), probe.transitions
            cluster.lab.cut("n1", how="filter")  # n1 hears nobody, nobody hears n1: both hold the group
            assert probe.wait_for("n2", FAST.deadtime_ms / 1000 + 10), probe.transitions
            assert _client_mac(cluster, cluster.settings.vip) == _node_mac(cluster, "n2")
            cluster.lab.restore("n1")
            healed = time.monotonic()
            cluster.wait_owner("n1", timeout=20, ask="n2")
            assert probe.wait_for("n1", 5), probe.transitions
            back = next(t.t for t in probe.transitions if t.t > healed and t.answerer == "n1") - healed
            assert "announcing its addresses again" in cluster.log("n1"), cluster.log("n1")[-3000:]
            assert _client_mac(cluster, cluster.settings.vip) == _node_mac(cluster, "n1")
            print(f"\npartition heal: VIP answers from n1 {back:.3f} s after the heal")


def test_a_group_found_partly_running_is_completed_and_status_shows_each_resource() -> None:
    with lab_cluster() as cluster:
        cluster.start("n1")
        cluster.start("n2")
        cluster.wait_owner("n1", timeout=20)
        cluster.wait_owner("n1", timeout=10, ask="n2")
        cluster.kill9("n1")
        cluster.lab.exec("n1", ["rm", "-f", SERVICE_STATE])  # the service died with the daemon
        assert not cluster.service_running("n1")
        cluster.start("n1")
        st = cluster.wait_owner("n1", timeout=20)
        assert group_state(st, cluster.settings.group) == "running"
        assert cluster.service_running("n1"), cluster.log("n1")[-3000:]
        log1 = cluster.log("n1")
        assert "is partly running here (1 of 2)" in log1, log1[-3000:]
        group = next(g for g in st["groups"] if g["key"] == cluster.settings.group)
        assert [(r["resource"], r["state"]) for r in group["resources"]] == [
            (cluster.settings.group, "running"), ("hbdsvc", "running")], group
        text = cluster.cli("n1", ["hbd", "status"]).stdout
        assert "hbdsvc: running" in text, text
