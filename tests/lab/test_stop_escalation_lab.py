"""Stop escalation in the lab (doc/daemon.md): a service script whose stop hangs beyond `stop_timeout` is
killed at the timeout, its status is asked (still running), no forced stop exists for it, the group's stop is
retried `stop_retries` times, then `on_stop_failure block`: the group stays FAILED on n1 (held, alerted,
never reported as stopped) and n2 never takes it over. Each step is one `stop escalation:` line in n1's log;
the invariant watcher (VIP answering from one node, the file system mounted on one node) runs throughout."""
from __future__ import annotations

import time

from daemon_lab import group_state, lab_cluster

from hbd.lab.watch import InvariantWatcher

SCRIPT = """#!/bin/sh
# a service whose stop hangs while /dev/shm/hangsvc.hang exists
STATE=/dev/shm/hangsvc.running
case "$1" in
  start) touch "$STATE"; echo "hangsvc started";;
  stop) if [ -e /dev/shm/hangsvc.hang ]; then sleep 30; fi; rm -f "$STATE"; echo "hangsvc stopped";;
  status) if [ -e "$STATE" ]; then echo "running"; exit 0; else echo "stopped"; exit 3; fi;;
  *) exit 2;;
esac
"""
from hbd.lab.hbd_cluster import VIP

VIP_GROUP = f"IPaddr2::{VIP}/24/eth0"


def test_a_hanging_stop_is_escalated_step_by_step_and_blocks_the_group_here() -> None:
    with lab_cluster() as cluster:
        lab = cluster.lab
        vip = VIP
        line = f"n1 {VIP_GROUP} drbddisk::r0 Filesystem::/dev/drbd0::/srv/db::ext4 hangsvc\n"
        extra = "stop_timeout 3\nstop_retries 1\non_stop_failure block\n"
        for node in lab.nodes:
            ha_d = lab.path(node, "/etc/ha.d")
            (ha_d / "ha.cf").write_text(cluster.settings.hacf(lab.nodes, extra))
            (ha_d / "haresources").write_text(line)
            (ha_d / "resource.d" / "hangsvc").write_text(SCRIPT)
            (ha_d / "resource.d" / "hangsvc").chmod(0o755)
        cluster.start("n1")
        cluster.start("n2")

        def held_by_n1(st: dict) -> bool:
            return any(g["key"] == VIP_GROUP and g["state"] == "running" for g in st["groups"]) and st["stable"]

        cluster.wait_status("n1", held_by_n1, 30)
        cluster.wait_configured_deadtime("n2", "n1")
        watcher = InvariantWatcher(lab, vip=vip, mountpoint="/srv/db", interval=0.02).start()
        try:
            lab.exec("n1", ["touch", "/dev/shm/hangsvc.hang"])
            begin = time.monotonic()
            done = cluster.cli("n1", ["hbd-standby"], timeout=90)
            assert done.returncode == 1, (done.stdout, done.stderr)  # not released: exit 1, never 0
            log1 = cluster.log("n1")
            steps = [ln for ln in log1.splitlines() if "stop escalation:" in ln]
            expected = [
                # 1. the stop was killed at its timeout; 2. verified with status
                "hangsvc: hangsvc stop timeout: hangsvc stop did not finish; status after the stop: running",
                "no forced stop for heartbeat resources",  # 3. nothing to force for a script
                f"group {VIP_GROUP}: stop attempt 1 of 2 failed; retrying",  # 4. bounded retries
                "every attempt failed; on_stop_failure block",  # 5. the core's decision
                f"group {VIP_GROUP}: blocked",  # carried out, announced
            ]
            at = 0
            for want in expected:  # in this order
                found = next((i for i in range(at, len(steps)) if want in steps[i]), None)
                assert found is not None, (want, steps)
                at = found + 1
            st1 = cluster.status("n1")
            assert st1 is not None and group_state(st1, VIP_GROUP) == "failed"
            # n2 never takes a group that may still run on n1: wait several deadtimes
            time.sleep(3 * cluster.settings.deadtime_ms / 1000)
            st2 = cluster.status("n2")
            assert st2 is not None and group_state(st2, VIP_GROUP) != "running", st2
            assert lab.exec("n2", ["mountpoint", "-q", "/srv/db"], check=False).returncode != 0
            print(f"\nhanging stop blocked after {time.monotonic() - begin:.1f} s; steps:\n" + "\n".join(steps))
        finally:
            lab.exec("n1", ["rm", "-f", "/dev/shm/hangsvc.hang"], check=False)
            watcher.stop()
        watcher.check()
        assert watcher.polls > 10
