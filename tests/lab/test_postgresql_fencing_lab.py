"""PostgreSQL with fencing configured, haresources form of etc/examples/postgresql/ (lab values of
tests/lab/pg_config.py; the lab's power switch as both nodes' fence device and DRBD's resource-level fencing
with `hbd fence-peer`: tests/lab/pg_fencing.py). A client commits numbered rows over the VIP throughout.

1. Partition: every medium of the holder n1 dropped (the client's network with them). n1 fences n2 (the
   node holding nothing waits the fence delay first), keeps the database; n2 is fenced, and only n2.
2. The replication link of the Primary n1 pulled (n2's disk is outdated over the heartbeat medium left),
   commits go on on n1 alone, then n1 loses power: n2 fences it, refuses to promote its outdated disk and
   mounts nothing; no commit is acknowledged while n1 is down (none is served from old data). With the link
   back and n1 up, the database runs again.
After each: every acknowledged commit present, none twice, none never committed; the invariant watcher
(file system mounted once, VIP on one node, one Primary while connected) saw nothing wrong."""
from __future__ import annotations

import pg_fencing
from pg_lab import PgCluster, Settled, pg_cluster


def refused_then_back(pg: PgCluster) -> tuple[pg_fencing.Refused, Settled]:
    """n1's replication link cut, then its power: n2's disk is Outdated and hbd's guard refuses it; n1 back,
    the database runs again after a crash recovery."""
    at, refused = pg_fencing.cut_link_then_power_off(pg, "n1")
    assert refused.survivor == "n2" and refused.disk.startswith("Outdated/"), refused
    assert "local disk is Outdated" in refused.cluster_log_line, refused
    pg_fencing.bring_back(pg, "n1")
    back = pg.settle("cut link + power-off", at, expect=None)
    assert back.log == "crash recovery", back
    return refused, back


def test_partition_with_fencing_then_cut_replication_link_and_power_off() -> None:
    with pg_cluster("haresources", fencing=True) as pg:
        assert pg.active() == "n1"
        at, fenced = pg_fencing.partition(pg, "n1")
        assert fenced == "n2"
        kept = pg.settle("partition", at, expect="n1")
        assert kept.log == "clean start", kept  # never stopped
        pg.booted("n2")
        pg.wait_joined("n2", "n1")
        refused, back = refused_then_back(pg)
        print(f"\npartition: kept on n1, n2 fenced, longest time without a commit {kept.outage_s:.2f} s")
        print(f"cut link + power-off: {refused.survivor} ({refused.disk}) refused {refused.waited_s:.1f} s after "
              f"the power-off; {refused.failures} failed statements, {refused.acks_after} acknowledged while n1 "
              f"was off; back on {back.node} ({back.verdict.describe()})")


def test_cluster_conf_the_cut_link_outdates_the_peer_and_the_outdated_survivor_refuses() -> None:
    # The cluster.conf daemon answers DRBD's fence-peer handler too: n2's disk is Outdated by the cut, and
    # after n1's power-off hbd's own guard refuses it (DRBD's refusal alone would not say why).
    with pg_cluster("cluster", fencing=True) as pg:
        assert pg.active() == "n1"
        refused, back = refused_then_back(pg)
        log = pg_fencing.daemon_log(pg, "n1")
        assert "fence-peer r0: the peer answered: outdated (exit 4)" in log, log[-3000:]
        print(f"\ncluster.conf cut link + power-off: {refused.survivor} ({refused.disk}) refused "
              f"{refused.waited_s:.1f} s after the power-off; back on {back.node} ({back.verdict.describe()})")
