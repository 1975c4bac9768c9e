"""DRBD resource-level fencing in the lab: with the replication link cut, the Primary's fence-peer handler
(`hbd fence-peer`) has the peer outdate its disk over the heartbeat media; after the Primary's power-off
the survivor refuses to promote its outdated disk and says why. With the link up, the takeover is normal
(the survivor's own call-out finds the peer dead)."""
from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from daemon_lab import group_state, lab_cluster
from hbd.lab import drbd_format as fmt
from hbd.lab.hbd_cluster import SERVICE, HbdCluster
from hbd.lab.probes import VipProbe
from hbd.lab.watch import InvariantWatcher

FENCING = '  disk { fencing resource-only; }\n  handlers { fence-peer "hbd fence-peer -t 5"; }\n'
GROUP_LINE = "n1 drbddisk::r0 IPaddr2::{vip}/24/eth0 " + SERVICE + "\n"
GROUP = "drbddisk::r0"


def owner_of(st: dict) -> str | None:
    return next((g["owner"] for g in st["groups"] if g["key"] == GROUP), None)


def wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


@contextlib.contextmanager
def drbd_cluster() -> Iterator[tuple[HbdCluster, VipProbe]]:
    with lab_cluster() as cluster:
        lab = cluster.lab
        for node in lab.nodes:
            res = lab.path(node, "/etc/drbd.d") / "r0.res"
            text = res.read_text().rstrip()
            assert text.endswith("}")
            res.write_text(text[:-1] + FENCING + "}\n")
            (lab.path(node, "/etc/ha.d") / "haresources").write_text(GROUP_LINE.format(vip=cluster.settings.vip))
        cluster.start("n1")
        cluster.start("n2")
        cluster.wait_status("n1", lambda s: owner_of(s) == "n1" and s["stable"], 20)
        watcher = InvariantWatcher(lab, vip=cluster.settings.vip, drbd="r0", interval=0.02).start()
        probe = VipProbe(lab, cluster.settings.vip, interval=0.02).start()
        try:
            assert probe.wait_for("n1", 5), probe.transitions
            cluster.wait_configured_deadtime("n2", "n1")
            yield cluster, probe
        finally:
            probe.stop()
            watcher.stop()
        watcher.check()


def dstate(cluster: HbdCluster, node: str) -> str:
    return cluster.lab.exec(node, ["drbdadm", "dstate", "r0"]).stdout.strip()


def test_cut_link_then_primary_lost_the_outdated_survivor_refuses_and_says_why() -> None:
    with drbd_cluster() as (cluster, probe):
        assert dstate(cluster, "n2") == "UpToDate/UpToDate"
        cluster.lab.cut("n1", 1)  # the replication link (eth1); heartbeats still pass on eth0
        assert dstate(cluster, "n2") == "Outdated/DUnknown"
        assert dstate(cluster, "n1") == "UpToDate/Outdated"
        assert "The peer asks to outdate DRBD resource r0" in cluster.log("n2")
        assert "fence-peer r0: the peer answered: outdated (exit 4)" in cluster.log("n1")
        status = cluster.status("n2")
        assert status is not None and status["drbd"] == [{
            "resource": "r0", "role": "Secondary", "peer_role": "Unknown", "disk": "Outdated",
            "peer_disk": "DUnknown", "connection": "WFConnection", "split_brain": False}]
        text = cluster.cli("n2", ["hbd", "status"]).stdout
        assert "drbd:" in text and "disk Outdated/DUnknown" in text, text
        cluster.power_off("n1")
        reason = "refusing to promote r0: local disk is Outdated, not UpToDate (the peer outdated it"
        wait_for(lambda: reason in cluster.log("n2"), 20, "the survivor's refusal in its log")
        status = cluster.status("n2")
        assert status is not None and group_state(status, GROUP) != "running"
        assert fmt.parse_pair(cluster.lab.exec("n2", ["drbdadm", "role", "r0"]).stdout)[0] == "Secondary"
        assert not cluster.service_running("n2") and probe.current() != "n2"
        log = (cluster.lab.layout.drbd_dir / "r0.log").read_text()
        assert "split brain" not in log.lower()


def test_with_the_link_up_the_takeover_is_unchanged() -> None:
    with drbd_cluster() as (cluster, probe):
        cluster.power_off("n1")
        assert probe.wait_for("n2", 20), probe.transitions
        status = cluster.wait_status("n2", lambda s: owner_of(s) == "n2" and s["stable"], 10)
        assert group_state(status, GROUP) == "running"
        assert fmt.parse_pair(cluster.lab.exec("n2", ["drbdadm", "role", "r0"]).stdout)[0] == "Primary"
        log = (cluster.lab.layout.drbd_dir / "r0.log").read_text()
        assert "fence-peer exit code 5 (peer is unreachable, assumed to be dead)" in log
        assert "fence-peer r0: the peer is dead: it cannot write (exit 5)" in cluster.log("n2")
