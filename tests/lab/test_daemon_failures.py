"""Resource failures under the daemon in the lab (heartbeat.md §11.20, §11.21): a failed start is undone
and exactly that group goes to the peer; a failed stop is retried (bounded), then escalated without a
reboot, and the group is never started on the peer while it may still run here."""
from __future__ import annotations

from daemon_lab import group_state, running_cluster


def test_failed_start_is_undone_and_the_group_goes_back_to_the_peer() -> None:
    with running_cluster() as (cluster, watcher, probe):
        cluster.service_fault("n2", "start")
        done = cluster.cli("n1", ["hbd-standby"], timeout=60)
        assert done.returncode in (0, 1), done.stderr  # n1 released it; whether n2 kept it comes next
        st1 = cluster.wait_owner("n1", timeout=20)
        assert group_state(st1, cluster.settings.group) == "running" and cluster.service_running("n1")
        log2 = cluster.log("n2")
        assert "CRIT: Giving up resources due to failure of hbdsvc start failed" in log2, log2[-3000:]
        assert not cluster.service_running("n2")
        st2 = cluster.status("n2")
        assert st2 is not None and group_state(st2, cluster.settings.group) == "stopped"
        assert probe.wait_for("n1", 5), probe.transitions


def test_failed_stop_is_retried_then_escalated_without_reboot_and_never_started_twice() -> None:
    with running_cluster() as (cluster, watcher, probe):
        cluster.service_fault("n1", "stop")
        done = cluster.cli("n1", ["hbd-standby"], timeout=60)
        assert done.returncode == 1, (done.stdout, done.stderr)
        log1 = cluster.log("n1")
        assert log1.count("info: Retrying failed stop operation [") == 10, log1[-3000:]
        assert "CRIT: Resource STOP failure for group" in log1
        assert "manual intervention required" in log1
        st1 = cluster.status("n1")
        assert st1 is not None and group_state(st1, cluster.settings.group) == "failed"
        assert cluster.service_running("n1")  # still there: so n2 must not start the group
        st2 = cluster.status("n2")
        assert st2 is not None and group_state(st2, cluster.settings.group) == "stopped"
        assert cluster.owner(st2) == "n1"
        assert not cluster.service_running("n2")
