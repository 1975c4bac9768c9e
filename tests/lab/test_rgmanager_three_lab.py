"""Three real daemons running one cluster.conf (majority quorum, no two_node, no fencing): `database` (an address
and the lab's LSB service) in a restricted, ordered failover domain n1 > n2. kill -9 of the service's process:
its status check (every 2 s) fails and the service is restarted in place on n1 (recovery="restart"), the fail
count and last failure in `hbd status --json`. A partition {n1} | {n2, n3}: n1
loses quorum and stops the service; only after n1's grace does the quorate side start it, on n2 (never on n3,
outside the restricted domain); the invariant watcher never sees the address on two nodes. The partition
heals: n1 rejoins and, the domain being ordered without nofailback, the service moves back to n1.

The grace without fencing is the token plus the longest stop of the service (doc/services.md, "In the
daemon"): the resources' stop timeouts are set to 5 s here, enforced (`__enforce_timeouts="1"`: without it the
timeout is a hint and hbd bounds each stop by its own 60 s default), so that it is 2 + 5 + 5 = 12 s.
"""
from __future__ import annotations

import time

from monitor_lab import SERVICE, install_service, kill9, service_pid
from rgmanager_lab import CONF_DIR, reboots_asked, service, steps, wait_running_on, write_cluster_conf

from hbd.lab import Lab
from hbd.lab.cleanup import traces
from hbd.lab.hbd_cluster import HbdCluster
from hbd.lab.watch import InvariantWatcher

VIP = "192.0.2.50"
CONF = f"""<?xml version="1.0"?>
<cluster name="three" config_version="1">
  <totem token="2000"/>
  <clusternodes>
    <clusternode name="n1" nodeid="1" votes="1"/>
    <clusternode name="n2" nodeid="2" votes="1"/>
    <clusternode name="n3" nodeid="3" votes="1"/>
  </clusternodes>
  <rm>
    <failoverdomains>
      <failoverdomain name="pair" ordered="1" restricted="1">
        <failoverdomainnode name="n1" priority="1"/>
        <failoverdomainnode name="n2" priority="2"/>
      </failoverdomain>
    </failoverdomains>
    <service name="database" domain="pair" recovery="restart" max_restarts="1" restart_expire_time="600">
      <ip address="{VIP}/24" monitor_link="0" __enforce_timeouts="1"><action name="stop" timeout="5"/></ip>
      <script name="db" file="/etc/init.d/{SERVICE}" __enforce_timeouts="1">
        <action name="stop" timeout="5"/><action name="status" depth="0" interval="2" timeout="5"/>
      </script>
    </service>
  </rm>
</cluster>
"""
GRACE_S = 12.0


def lsb_running(cluster: HbdCluster, node: str) -> bool:
    return cluster.lab.exec(node, [f"/etc/init.d/{SERVICE}", "status"], check=False).returncode == 0


def test_partition_only_the_quorate_side_runs_it_and_it_moves_back_after_the_heal() -> None:
    lab = Lab.up(nodes=3, media=1)
    cluster = HbdCluster(lab)
    try:
        install_service(cluster)
        write_cluster_conf(cluster, CONF)
        found = lab.exec("n1", ["sh", "-c", "command -v reboot"]).stdout.strip()
        assert found == str(lab.layout.bin_dir / "reboot"), found  # a self-fence must not reboot this machine
        for node in lab.nodes:
            cluster.start(node, ["-c", CONF_DIR])
        st = wait_running_on(cluster, "n3", "n1", 40)
        assert st["quorum"] == {"quorate": True, "members": ["n1", "n2", "n3"], "total_votes": 3,
                                "expected_votes": 3, "quorum": 2}
        killed, at = kill9(cluster, "n1")
        st = cluster.wait_status("n1", lambda s: service(s)["failures"] == 1 and service(s)["local"] == "started"
                                 and service_pid(cluster, "n1") not in (None, killed), 2 + 5 + 15)
        print(f"kill -9: running again on n1 after {time.monotonic() - at:.1f} s")
        row = service(st)
        assert row["restarts"] == 1 and row["last_failure"]["resource"] == "script:db" and row["owner"] == "n1"
        watcher = InvariantWatcher(lab, vip=VIP, drbd=None, interval=0.02).start()
        try:
            cut = time.monotonic()
            lab.cut("n1", how="filter")  # {n1} | {n2, n3}: every frame of n1 dropped, its link up
            alone = cluster.wait_status("n1", lambda s: not s["quorum"]["quorate"]
                                        and service(s)["local"] == "stopped", 20)
            stopped_after = time.monotonic() - cut
            assert alone["quorum"]["members"] == ["n1"] and not lsb_running(cluster, "n1")
            wait_running_on(cluster, "n3", "n2", GRACE_S + 20)
            started_after = time.monotonic() - cut
            print(f"partition: n1 stopped after {stopped_after:.1f} s, n2 started it after {started_after:.1f} s")
            assert started_after >= GRACE_S  # not before the departed node's grace
            assert lsb_running(cluster, "n2") and not lsb_running(cluster, "n1")
            lab.restore("n1")
            st = wait_running_on(cluster, "n3", "n1", 30)  # ordered, failback: back on n1
            assert st["quorum"]["members"] == ["n1", "n2", "n3"]
            assert lsb_running(cluster, "n1") and not lsb_running(cluster, "n2")
        finally:
            watcher.stop()
        watcher.check()  # the address never on two nodes
        assert steps(cluster, "n3", "start") == []  # restricted to n1 and n2
        assert "NOT quorate" in cluster.stderr("n1")
        assert reboots_asked(cluster) == {}  # every stop succeeded: no self-fence
    finally:
        cluster.close()
        lab.down()
        left = traces(lab.name)
        assert not left, f"lab {lab.name} left traces: {left}"
