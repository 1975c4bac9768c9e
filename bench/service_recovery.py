"""Monitoring of a cluster.conf service, repeated: kill -9 of the LSB service's process (the lab's `dbsvc` behind
the service's address, tests/lab/monitor_lab.py) and the time, seen by a client asking ADDRESS:5432 every
20 ms, until it answers again.

Each run on a fresh two-node lab (real daemons, hbd -c /etc/cluster): `<service recovery="restart"
max_restarts="1">` with an ip and a script whose `<action name="status" interval=I timeout=T>`; the first
kill -9 on n1 -> the service is restarted in place (seconds until n1 answers again); the second kill -> beyond
max_restarts, the service is relocated to n2 (seconds until n2 answers). The invariant watcher checks the
address is never on both nodes. Prints every run, then median and max of each figure.

    sudo .venv/bin/python bench/service_recovery.py --runs 10 --interval 2 --timeout 5
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "lab"))

from daemon_lab import lab_cluster, watched  # noqa: E402
from monitor_lab import PORT, SERVICE, answered_again, install_service, kill9  # noqa: E402
from monitor_recovery import summary  # noqa: E402  (the same figures line as the haresources bench)
from rgmanager_lab import CONF_DIR, service, wait_running_on, write_cluster_conf  # noqa: E402

from hbd.lab.hbd_cluster import VIP  # noqa: E402
from hbd.lab.probes import VipProbe  # noqa: E402


def conf(interval_s: int, timeout_s: int) -> str:
    return f"""<?xml version="1.0"?>
<cluster name="bench" config_version="1">
  <cman two_node="1" expected_votes="1"/>
  <totem token="2000"/>
  <clusternodes>
    <clusternode name="n1" nodeid="1" votes="1"/>
    <clusternode name="n2" nodeid="2" votes="1"/>
  </clusternodes>
  <rm>
    <service name="database" recovery="restart" max_restarts="1" restart_expire_time="600">
      <ip address="{VIP}/24" monitor_link="0"/>
      <script name="db" file="/etc/init.d/{SERVICE}">
        <action name="status" depth="0" interval="{interval_s}" timeout="{timeout_s}"/>
      </script>
    </service>
  </rm>
</cluster>
"""


def one_run(interval_s: int, timeout_s: int) -> tuple[float, float]:
    """(seconds until running again in place, seconds until running on the other node)."""
    bound = interval_s + timeout_s + 30
    with lab_cluster() as cluster:
        install_service(cluster)
        write_cluster_conf(cluster, conf(interval_s, timeout_s))
        for node in ("n1", "n2"):
            cluster.start(node, ["-c", CONF_DIR])
        wait_running_on(cluster, "n1", "n1", 30)
        wait_running_on(cluster, "n2", "n1", 10)
        with watched(cluster):
            probe = VipProbe(cluster.lab, VIP, port=PORT, interval=0.02).start()
            try:
                if not probe.wait_for("n1", 10):
                    raise SystemExit(f"the service does not answer: {probe.transitions}")
                _, killed = kill9(cluster, "n1")
                in_place = answered_again(probe, killed, "n1", timeout=bound)
                if in_place is None:
                    raise SystemExit(f"not restarted in place: {probe.transitions[-5:]}")
                # the restart counted, and a check has seen it running, before the second kill
                cluster.wait_status("n1", lambda s: service(s)["restarts"] == 1 and service(s)["local"] == "started",
                                    10)
                time.sleep(interval_s)
                _, killed = kill9(cluster, "n1")
                on_peer = answered_again(probe, killed, "n2", timeout=bound)
                if on_peer is None:
                    raise SystemExit(f"not relocated: {probe.transitions[-5:]}")
                return in_place, on_peer
            finally:
                probe.stop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--interval", type=int, default=2, help="the script's status interval, seconds")
    p.add_argument("--timeout", type=int, default=5, help="the script's status timeout, seconds")
    args = p.parse_args()
    if os.geteuid() != 0:
        print("needs root (the lab)", file=sys.stderr)
        return 1
    in_place: list[float] = []
    moved: list[float] = []
    for run in range(1, args.runs + 1):
        a, b = one_run(args.interval, args.timeout)
        in_place.append(a)
        moved.append(b)
        print(f"run {run}: running again in place after {a:.2f} s; on n2 after {b:.2f} s", flush=True)
    print(summary("killed -> running again in place", in_place))
    print(summary("killed -> running on the other node (relocated)", moved))
    return 0


if __name__ == "__main__":
    sys.exit(main())
