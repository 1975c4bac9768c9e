"""A mixed cluster: Debian's Heartbeat 3.0.6 on one node, hbd on the other, the same haresources (a VIP group
preferred by n1). Takeover both ways on power-off, graceful shutdown both ways, hb_standby and hbd-standby
both ways; the invariant watcher runs throughout (the VIP is never on two nodes)."""
from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from daemon_lab import lab_cluster, watched
from heartbeat_peer import (
    LOGFILE, HeartbeatPeer, install_ha_d_scripts, require_heartbeat, start_heartbeat,
)
from hbd.lab.hbd_cluster import ClusterSettings, HbdCluster
from hbd.lab.probes import VipProbe
from hbd.lab.watch import InvariantWatcher

# Heartbeat checks deadlines every 250 ms and needs deadtime > 2 x keepalive: slower than hbd-only tests
MIXED = ClusterSettings(keepalive_ms=250, deadtime_ms=1500, initdead_ms=3000, realtime=False)
TAKEOVER_S = 1.5 + 2 + 15  # deadtime (+ start-up dt) + Heartbeat's script runs
STARTUP_DT_S = 6  # Heartbeat and hbd advertise deadtime + 2 s for their first 5 s


@dataclass
class Mixed:
    cluster: HbdCluster
    hb: HeartbeatPeer
    hb_node: str
    hbd_node: str
    watcher: InvariantWatcher
    probe: VipProbe

    def heartbeat_command(self, argv: list[str]) -> subprocess.CompletedProcess:
        """Run a Heartbeat tool (hb_standby, ...) in the mount namespace layout Heartbeat runs in."""
        lib, run = self.hb.root / "lib", self.hb.root / "run"
        script = f"mount --bind {lib} /var/lib/heartbeat && mount --bind {run} /run && exec {' '.join(argv)}"
        return self.cluster.lab.exec(self.hb_node, ["unshare", "--mount", "--propagation", "private", "/bin/sh",
                                                    "-c", script], check=False, timeout=30)


@contextlib.contextmanager
def mixed(heartbeat_on: str) -> Iterator[Mixed]:
    """The node preferred by the group (n1) starts first and takes the group; the other joins."""
    require_heartbeat()
    hbd_node = "n2" if heartbeat_on == "n1" else "n1"
    with lab_cluster(MIXED) as cluster:
        lab = cluster.lab
        ha_d = lab.path(heartbeat_on, "/etc/ha.d")
        install_ha_d_scripts(ha_d)
        cluster.write_config([heartbeat_on])  # our service script again, over the package's tree
        hacf = ha_d / "ha.cf"
        hacf.write_text(hacf.read_text().replace("logfile /var/log/hbd/hbd.log", f"logfile {LOGFILE}")
                        .replace("debugfile /var/log/hbd/hbd.debug\n", ""))
        hb: HeartbeatPeer | None = None
        try:
            if heartbeat_on == "n1":
                hb = start_heartbeat(lab, "n1")
                with VipProbe(lab, MIXED.vip) as first:
                    assert first.wait_for("n1", 30), f"Heartbeat never took the group\n{hb.log()[-3000:]}"
                cluster.start("n2")
                cluster.wait_status("n2", lambda st: st["stable"] and cluster.owner(st) == "n1", timeout=30)
            else:
                cluster.start("n1")
                cluster.wait_owner("n1", timeout=30)
                hb = start_heartbeat(lab, "n2")
                hb.wait_log("Status update for node n1: status active", timeout=30)
                hb.wait_log("Initial resource acquisition complete", timeout=30)  # Heartbeat is stable
                cluster.wait_status("n1", lambda st: st["peer"]["holds"] == [] and st["stable"], timeout=30)
            with watched(cluster) as (watcher, probe):
                assert probe.wait_for("n1", 5), probe.transitions
                yield Mixed(cluster, hb, heartbeat_on, hbd_node, watcher, probe)
        finally:
            if hb is not None:
                hb.stop()


def assert_moved_to(m: Mixed, node: str) -> None:
    assert m.probe.wait_for(node, TAKEOVER_S), (
        f"the VIP never answered from {node}: {m.probe.transitions}\n"
        f"--- Heartbeat on {m.hb_node} ---\n{m.hb.log()[-6000:]}\n--- hbd on {m.hbd_node} ---\n"
        f"{m.cluster.log(m.hbd_node)[-6000:]}\n--- hbd debug ---\n"
        f"{m.cluster.log_file(m.hbd_node, 'hbd.debug')[-8000:]}")
    if node == m.hbd_node:
        m.cluster.wait_owner(node, timeout=10)
    deadline = time.monotonic() + 10
    while not m.cluster.service_running(node) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert m.cluster.service_running(node)
    assert m.probe.answerers() == ["n1", "n2"]


@pytest.mark.parametrize("heartbeat_on", ["n1", "n2"])
def test_power_off_of_the_active_node_moves_the_group(heartbeat_on: str) -> None:
    with mixed(heartbeat_on) as m:
        time.sleep(STARTUP_DT_S)  # so that the survivor judges n1 by its configured deadtime
        if heartbeat_on == "n1":
            m.cluster.lab.power_off("n1")
        else:
            m.cluster.power_off("n1")
        assert_moved_to(m, "n2")


@pytest.mark.parametrize("heartbeat_on", ["n1", "n2"])
def test_graceful_shutdown_of_the_active_node_hands_over_at_once(heartbeat_on: str) -> None:
    with mixed(heartbeat_on) as m:
        if heartbeat_on == "n1":
            m.hb.stop()
        else:
            assert m.cluster.stop("n1") == 0
        assert_moved_to(m, "n2")
        if heartbeat_on == "n1":
            assert "info: Received shutdown notice from 'n1'." in m.cluster.log("n2")
        else:
            m.hb.wait_log("Received shutdown notice from 'n1'.", timeout=5)
        assert not m.cluster.service_running("n1")


@pytest.mark.parametrize("heartbeat_on", ["n1", "n2"])
def test_standby_from_the_active_node_both_tools(heartbeat_on: str) -> None:
    with mixed(heartbeat_on) as m:
        if heartbeat_on == "n1":
            done = m.heartbeat_command(["/usr/share/heartbeat/hb_standby", "all"])
            assert done.returncode == 0, (done.stdout, done.stderr)
        else:
            done = m.cluster.cli("n1", ["hbd-standby", "all"], timeout=60)
            assert done.returncode == 0, (done.stdout, done.stderr, m.hb.log()[-3000:])
        assert_moved_to(m, "n2")
        assert not m.cluster.service_running("n1")
