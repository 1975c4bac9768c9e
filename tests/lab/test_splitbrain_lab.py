"""Split brain in the lab (doc/split-brain.md): every medium of n1 cut by the switch's filter for 2 x deadtime,
no fencing and no ping nodes, so both nodes take the DRBD group; after the heal, within deadtime + 2 s,
exactly one node (n1, the preferred node) holds it, the VIP answers from n1 and the client's neighbour
entry has n1's MAC; the emulator finds the split brain and `hbd status` says so; `hbd splitbrain plan
--keep n1` shows the commands; `resolve` refuses while n2 has something mounted on the filesystem's mount
point, changing nothing; `resolve --keep n1 --yes` brings DRBD back to Connected/UpToDate with n1's data: a
file n2 wrote during the partition is gone, one n1 wrote survives (each side wrote its own disk then: the
emulator forks the data when n2 becomes the second Primary, hbd/lab/drbd_images.py)."""
from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from daemon_lab import group_state, lab_cluster, wait_until
from hbd.lab.hbd_cluster import SERVICE, ClusterSettings, HbdCluster
from hbd.lab.probes import VipProbe, client_neighbours

GROUP = "drbddisk::r0"
# deadtime 2 s: the bound after the heal is deadtime + 2 s, and n2's stop of the whole group (the emulated
# drbdadm takes about a second on a loaded machine) should not eat most of it
SETTINGS = ClusterSettings(keepalive_ms=200, deadtime_ms=2000, initdead_ms=4000)
LINE = "n1 drbddisk::r0 Filesystem::/dev/drbd0::/srv/db::ext4 IPaddr2::{vip}/24/eth0 " + SERVICE + "\n"


def holds(cluster: HbdCluster, node: str) -> bool:
    st = cluster.status(node)
    return st is not None and group_state(st, GROUP) in ("running", "starting", "stopping", "partial", "failed")


def drbd(cluster: HbdCluster, node: str, verb: str) -> str:
    return cluster.lab.exec(node, ["drbdadm", verb, "r0"]).stdout.strip()


def mac(cluster: HbdCluster, node: str) -> str:
    out = cluster.lab.exec(node, ["ip", "-j", "link", "show", "dev", "eth0"]).stdout
    return str(json.loads(out)[0]["address"])


def files_on(loop: str) -> set[str]:
    """Names in the root directory of the ext4 on `loop`, read from the host (debugfs, read-only)."""
    os.sync()  # a mounted filesystem's metadata reach the device first
    out = subprocess.run(["debugfs", "-c", "-R", "ls -p /", loop], capture_output=True, text=True, timeout=10,
                         check=True).stdout
    return {fields[5] for fields in (line.split("/") for line in out.splitlines()) if len(fields) > 5}


def test_partition_heal_one_owner_then_splitbrain_resolve(capsys: pytest.CaptureFixture[str]) -> None:
    begin = time.monotonic()
    with lab_cluster(SETTINGS) as cluster:
        lab, vip, deadtime_s = cluster.lab, cluster.settings.vip, cluster.settings.deadtime_ms / 1000
        for node in lab.nodes:
            (lab.path(node, "/etc/ha.d") / "haresources").write_text(LINE.format(vip=vip))
        cluster.start("n1")
        cluster.start("n2")
        cluster.wait_status("n1", lambda s: s["groups"][0]["owner"] == "n1" and s["stable"], 20)
        cluster.wait_configured_deadtime("n2", "n1")
        assert "No fencing (stonith_host) and no ping nodes" in cluster.log("n1")
        probe = VipProbe(lab, vip, interval=0.02).start()
        try:
            assert probe.wait_for("n1", 5), probe.transitions
            lab.cut("n1", how="filter")  # both media (eth0 carries the clients too), links up
            cut = time.monotonic()
            started = "Resource group drbddisk::r0 started."
            wait_until(lambda: started in cluster.log("n2") and probe.current() == "n2", 10, "n2 takes over", cluster.log)
            assert holds(cluster, "n1")  # both: the documented risk without fencing or ping nodes
            for node in lab.nodes:  # each on the filesystem of its own Primary
                lab.exec(node, ["sh", "-c", f"echo {node} > /srv/db/from-{node} && sync"])
            time.sleep(max(0.0, cut + 2 * deadtime_s - time.monotonic()))
            stopped = "Resource group drbddisk::r0 stopped."  # n2's log: its whole group is stopped
            stops = cluster.log("n2").count(stopped)
            lab.restore("n1")
            healed = time.monotonic()
            # read from the log (cheap); `hbd status` asks drbdadm three times and is too slow to poll with
            one_owner = wait_until(lambda: cluster.log("n2").count(stopped) > stops, deadtime_s + 2,
                                   "n2 stops the group after the heal", cluster.log)
            assert probe.wait_for("n1", max(0.1, healed + deadtime_s + 2 - time.monotonic())), probe.transitions
            n1_mac = mac(cluster, "n1")
            wait_until(lambda: client_neighbours(lab).get(vip) == n1_mac,
                       max(0.1, healed + deadtime_s + 2 - time.monotonic()), "the client's ARP entry has n1's MAC")
        finally:
            probe.stop()
        assert "CRIT: Cluster node n2 returning after partition." in cluster.log("n1")
        assert "ERROR: Both machines own foreign resources!" in cluster.log("n2")
        # DRBD finds the split brain when it reconnects (the emulator, on the next drbdadm after the heal)
        st = cluster.wait_status("n2", lambda s: s["drbd"][0].get("split_brain") is True, 10)
        assert st["drbd"][0]["connection"] == "StandAlone" and group_state(st, GROUP) == "stopped"
        text = cluster.cli("n1", ["hbd", "status"]).stdout
        assert "SPLIT BRAIN: DRBD resource r0: connection StandAlone" in text and " running" in text, text
        assert "Split-Brain detected but unresolved" in (lab.layout.drbd_dir / "r0.log").read_text()
        wait_until(lambda: "CRIT: DRBD resource r0: connection StandAlone" in cluster.log("n1"), 10, "CRIT line")

        plan = cluster.cli("n2", ["hbd", "splitbrain", "plan", "--keep", "n1", "r0"])
        assert plan.returncode == 0, plan.stdout + plan.stderr
        lines = plan.stdout.splitlines()
        victim = lines.index("  on n2 (victim):")
        assert lines[victim + 1:victim + 4] == ["    drbdadm secondary r0", "    drbdadm disconnect r0",
                                                "    drbdadm -- --discard-my-data connect r0"], plan.stdout
        assert lines[lines.index("  on n1 (survivor):") + 1] == "    drbdadm connect r0", plan.stdout

        state_file = lab.layout.drbd_dir / "r0.json"  # the emulator's state (writes still count on n1)

        def drbd_state() -> dict[str, object]:
            state = json.loads(state_file.read_text())
            keys = ("configured", "role", "disk", "standalone", "discard_my_data", "primary_while_disconnected")
            return {"split_brain": state["split_brain"],
                    **{n: [v[k] for k in keys] for n, v in state["nodes"].items()}}

        n1_disk, n2_disk = lab.drbd_image("n1"), lab.drbd_image("n2")
        assert n1_disk != n2_disk, "the data forked when n2 became the second Primary"
        assert {"from-n1"} <= files_on(n1_disk) and "from-n2" not in files_on(n1_disk)
        assert {"from-n2"} <= files_on(n2_disk) and "from-n1" not in files_on(n2_disk)
        before = drbd_state()
        assert before["split_brain"] is True and before["n2"] == [True, "Secondary", "UpToDate", True, False, True]
        lab.exec("n2", ["mount", "-t", "tmpfs", "hbd-lab-splitbrain", "/srv/db"])  # still mounted on the victim
        try:
            refused = cluster.cli("n1", ["hbd", "splitbrain", "resolve", "--keep", "n1", "--yes"])
            assert refused.returncode == 1, refused.stdout + refused.stderr
            assert "[FAILED] n2: r0's filesystem is not mounted here (mounted on /srv/db)" in refused.stderr
            assert drbd_state() == before
        finally:
            lab.exec("n2", ["umount", "/srv/db"])
        done = cluster.cli("n1", ["hbd", "splitbrain", "resolve", "--keep", "n1", "--yes"], timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "DRBD is Connected again" in done.stdout
        for node in lab.nodes:
            assert drbd(cluster, node, "cstate") == "Connected" and drbd(cluster, node, "dstate") == "UpToDate/UpToDate"
        assert drbd(cluster, "n1", "role") == "Primary/Secondary"
        assert "Split-Brain detected, manually solved. Sync from n1" in (lab.layout.drbd_dir / "r0.log").read_text()
        assert holds(cluster, "n1") and not holds(cluster, "n2")
        # n1's data everywhere: on the survivor's mounted filesystem and on the disk n2 syncs to
        assert lab.exec("n1", ["cat", "/srv/db/from-n1"]).stdout == "n1\n"
        assert lab.exec("n1", ["test", "-e", "/srv/db/from-n2"], check=False).returncode == 1
        assert lab.drbd_image("n2") == lab.drbd_image("n1")
        victim_files = files_on(lab.drbd_image("n2"))
        assert "from-n1" in victim_files and "from-n2" not in victim_files, victim_files
    with capsys.disabled():
        print(f"\nsplit brain: one owner {one_owner:.2f} s after the heal (deadtime {deadtime_s:g} s); "
              f"test {time.monotonic() - begin:.1f} s")
