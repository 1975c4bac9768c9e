"""Regression tests of issue 9's bugs 7 and 8 with the real daemons, through interfaces that existed before
their fixes (ff26290, f89f2ea): the lab cluster's files, `hbd status --json`, `hbd reload` and the invariant
watcher. Bug 7: seed 001 as printed gives each node a haresources naming itself; both daemons started the
group and the VIP was on both nodes. Bug 8: after `mv ha-log ha-log.1; hbd reload` the lines kept going to
ha-log.1. They fail by assertion on the trees before the fixes (dev/check_regressions.py checks that)."""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from agent_helpers import wait_until
from daemon_lab import lab_cluster

from hbd.lab.hbd_cluster import HbdCluster
from hbd.lab.watch import InvariantWatcher

WATCH_AFTER_SETTLED_S = 3.0  # a late start would come within a keepalive or two of the settled reports


def settled(cluster: HbdCluster, node: str, peer: str) -> dict[str, Any] | None:
    st = cluster.status(node)
    if st is None or not st["stable"]:
        return None
    return st if any(n["name"] == peer and n["status"] == "active" for n in st["nodes"]) else None


def test_nodes_whose_haresources_each_name_themselves_never_both_run_the_group() -> None:
    with lab_cluster() as cluster:
        theirs = replace(cluster.settings, preferred="n2").haresources()
        (cluster.lab.path("n2", "/etc/ha.d") / "haresources").write_text(theirs)
        t0 = time.monotonic()
        watcher = InvariantWatcher(cluster.lab, vip=cluster.settings.vip, drbd=None, interval=0.02).start()
        try:
            cluster.start("n1")
            cluster.start("n2")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not watcher.violations:
                if settled(cluster, "n1", "n2") and settled(cluster, "n2", "n1"):
                    break
                time.sleep(0.1)
            assert not watcher.violations, [v.describe(t0) for v in watcher.violations]
            assert settled(cluster, "n1", "n2") and settled(cluster, "n2", "n1"), "the daemons did not settle"
            end = time.monotonic() + WATCH_AFTER_SETTLED_S
            while time.monotonic() < end and not watcher.violations:
                time.sleep(0.05)
        finally:
            watcher.stop()
        assert not watcher.violations, [v.describe(t0) for v in watcher.violations]
        running = [n for n in cluster.lab.nodes if cluster.service_running(n)]
        assert running == [], f"the group defined differently on the two nodes runs on {running}"
        for node, peer in (("n1", "n2"), ("n2", "n1")):  # and each says why, naming the group
            assert f"defined differently on {peer}: {cluster.settings.group}" in cluster.log(node), cluster.log(node)


def test_after_mv_of_the_log_and_hbd_reload_the_daemon_writes_to_the_new_file() -> None:
    with lab_cluster() as cluster:
        cluster.start("n1")
        cluster.start("n2")
        assert wait_until(lambda: settled(cluster, "n1", "n2") is not None, 20), cluster.log("n1")[-3000:]
        logs = cluster.lab.path("n1", "/var/log/hbd")
        (logs / "hbd.log").rename(logs / "hbd.log.1")  # what an operator or logrotate does
        done = cluster.cli("n1", ["hbd", "reload"], timeout=30)
        assert done.returncode == 0, done.stdout + done.stderr
        size = len((logs / "hbd.log.1").read_text())
        cluster.stop("n2")  # n1 logs n2's departure
        assert wait_until(lambda: "n2" in cluster.log("n1"), 15), (
            "no line about n2 leaving in the new hbd.log; the rotated file got: "
            + (logs / "hbd.log.1").read_text()[size:][-2000:])
        assert len((logs / "hbd.log.1").read_text()) == size, "lines landed in the rotated file"
