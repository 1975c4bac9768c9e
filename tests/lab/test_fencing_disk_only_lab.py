"""kill -9 of the active daemon with a disk-only group (no VIP to guard the takeover): the survivor's
promotion is refused while the killed node's DRBD stays Primary and connected, so the disk is never
Primary (or mounted) on both nodes; the invariant watcher runs throughout."""
from __future__ import annotations

import time

from daemon_lab import lab_cluster
from hbd.lab import drbd_format as fmt
from hbd.lab.hbd_cluster import SERVICE
from hbd.lab.watch import InvariantWatcher

GROUP = "drbddisk::r0"
LINE = f"n1 {GROUP} Filesystem::/dev/drbd0::/srv/db::ext4 {SERVICE}\n"


def owner_of(st: dict) -> str | None:
    return next((g["owner"] for g in st["groups"] if g["key"] == GROUP), None)


def test_kill_9_with_a_disk_only_group_never_gives_the_disk_to_both() -> None:
    with lab_cluster() as cluster:
        lab = cluster.lab
        for node in lab.nodes:
            (lab.path(node, "/etc/ha.d") / "haresources").write_text(LINE)
        cluster.start("n1")
        cluster.start("n2")
        cluster.wait_status("n1", lambda s: owner_of(s) == "n1" and s["stable"], 20)
        cluster.wait_configured_deadtime("n2", "n1")
        watcher = InvariantWatcher(lab, mountpoint="/srv/db", drbd="r0", interval=0.02).start()
        try:
            cluster.kill9("n1")
            refusal = "could not promote r0: peer is Primary"
            deadline = time.monotonic() + 30
            while refusal not in cluster.log("n2") and time.monotonic() < deadline:
                time.sleep(0.1)
            assert refusal in cluster.log("n2"), cluster.log("n2")[-3000:]
            assert fmt.parse_pair(lab.exec("n2", ["drbdadm", "role", "r0"]).stdout)[0] == "Secondary"
            assert fmt.parse_pair(lab.exec("n1", ["drbdadm", "role", "r0"]).stdout)[0] == "Primary"
            assert lab.exec("n2", ["mountpoint", "-q", "/srv/db"], check=False).returncode != 0
            assert lab.exec("n1", ["mountpoint", "-q", "/srv/db"], check=False).returncode == 0
        finally:
            watcher.stop()
        watcher.check()
        assert watcher.polls > 10
