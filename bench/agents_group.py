"""Figure: group start/stop overhead of `hbd test test` beyond the agents' own work.

In a lab node, a cluster.conf service (ip, script, drbd with fs inside) is started and stopped with
`hbd test test start|stop service database --force`. For each run: the wall time of the command, the sum
of the agents' own call durations (each agent line ends "... in X.XXXs"), and the difference, which is
hbd's overhead: interpreter start, config load, plan, agent resolution and output. `hbd test noop`
on the same service shows how much of that is start-up and config alone. The "warm" rows run the same
command in one Python process with the agent modules already imported, as in the daemon, so what is left
is the executor's own work per group.
"""
from __future__ import annotations

import re
import statistics
import sys
import time

from hbd.lab import Lab

from agents_common import rounds_or_none  # bench/ is the script's own directory

CLUSTER_CONF = """<?xml version="1.0"?>
<cluster name="bench" config_version="1">
  <clusternodes><clusternode name="n1" nodeid="1"/><clusternode name="n2" nodeid="2"/></clusternodes>
  <rm>
    <service name="database">
      <ip address="192.0.2.50/24" monitor_link="1" sleeptime="0"/>
      <drbd name="dbdev" resource="r0">
        <fs name="dbfs" device="/dev/drbd0" mountpoint="/srv/db" fstype="ext4"/>
      </drbd>
      <script name="dbscript" file="/etc/cluster/dbscript"/>
    </service>
  </rm>
</cluster>
"""
SCRIPT = ("#!/bin/sh\nS=/run/hbd/db.on\n"
          "case $1 in start) touch $S;; stop) rm -f $S;; status) [ -e $S ] || exit 3;; esac\n")
WARM = ("import io, sys, time\n"
        "import hbd.agents.ipaddr2, hbd.agents.filesystem, hbd.agents.executor\n"
        "from hbd.cli import test_cmd\n"
        "out, sys.stdout = io.StringIO(), io.StringIO()\n"
        "sys.stdout = out\n"
        "t = time.monotonic()\n"
        "rc = test_cmd.main(['test', sys.argv[1], 'service', 'database', '--force'])\n"
        "wall = time.monotonic() - t\n"
        "sys.stdout = sys.__stdout__\n"
        "print(out.getvalue() + f'WALL {wall:.6f}')\n"
        "sys.exit(rc)\n")
DURATION = re.compile(r" in (\d+\.\d+)s(: .*)?$")


def timed(lab: Lab, mode: str, op: str) -> tuple[float, float]:
    """(wall time of the command, sum of the agents' durations it printed)."""
    begin = time.monotonic()
    res = lab.exec("n1", ["hbd", "test", mode, op, "service", "database", "--force"], timeout=120, check=False)
    wall = time.monotonic() - begin
    if res.returncode != 0:
        raise SystemExit(f"hbd test {mode} {op} failed:\n{res.stdout}\n{res.stderr}")
    agents = sum(float(m.group(1)) for line in res.stdout.splitlines() if (m := DURATION.search(line)))
    return wall, agents


def warm(lab: Lab, op: str) -> tuple[float, float]:
    """(executor wall time with modules loaded, sum of the agents' durations) for one in-process run."""
    res = lab.exec("n1", [sys.executable, "-c", WARM, op], timeout=120, check=False)
    if res.returncode != 0:
        raise SystemExit(f"warm {op} failed:\n{res.stdout}\n{res.stderr}")
    wall = float(res.stdout.rsplit("WALL ", 1)[1])
    agents = sum(float(m.group(1)) for line in res.stdout.splitlines() if (m := DURATION.search(line)))
    return wall, agents


def main(argv: list[str] | None = None) -> int:
    rounds = rounds_or_none(argv, __doc__ or "", "agents_group")
    if rounds is None:
        return 2
    with Lab.up(nodes=2, media=2) as lab:
        etc = lab.path("n1", "/etc/cluster")
        (etc / "cluster.conf").write_text(CLUSTER_CONF)
        (etc / "dbscript").write_text(SCRIPT)
        (etc / "dbscript").chmod(0o755)
        rows: dict[str, list[tuple[float, float]]] = {"start": [], "stop": [], "noop start": [],
                                                      "warm start": [], "warm stop": []}
        for _ in range(rounds):
            rows["start"].append(timed(lab, "test", "start"))
            rows["stop"].append(timed(lab, "test", "stop"))
            rows["noop start"].append(timed(lab, "noop", "start"))
            rows["warm start"].append(warm(lab, "start"))
            rows["warm stop"].append(warm(lab, "stop"))
    print(f"hbd test test start|stop service database (ip, script, drbd, fs) in a lab node, {rounds} rounds")
    for label, values in rows.items():
        wall = [w for w, _ in values]
        agents = [a for _, a in values]
        over = [w - a for w, a in values]
        print(f"  {label:<10} wall median {1000 * statistics.median(wall):7.1f} ms   agents "
              f"{1000 * statistics.median(agents):7.1f} ms   overhead median {1000 * statistics.median(over):7.1f} ms"
              f"  max {1000 * max(over):7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
