"""Issue 9 bug 6, repeated: a takeover whose service start takes 20 s (fsyncs of a file, as PostgreSQL's
start fsyncs its data directory), on a machine loaded by stress-ng CPU + IO on both cores.

Per run, on a fresh lab: two hbd nodes, n1 holding IPaddr2 + a service; the service's start on n2 is made
slow (20 s of 4 MB writes with fsync); stress-ng starts; after a few seconds under load n1 is powered
off; n2 takes over (the 20 s start) and the load goes on a few seconds after it is done. Counted on the
survivor: false self-deaths ("node n2: is dead", "No local heartbeat", a daemon restart), n1 judged dead
while it was still up, late heartbeats; and whether the takeover completed. The heartbeat path's
counters (timer lag, GC pauses, packets read late) and the daemon threads' scheduling (chrt -p) are
printed per run.

    sudo .venv/bin/python bench/takeover_under_load.py --runs 10 --timing 200ms/1s 10ms/50ms
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hbd.lab import Lab
from hbd.lab.cleanup import traces
from hbd.lab.hbd_cluster import SERVICE, SERVICE_STATE, ClusterSettings, HbdCluster

from stress_common import Stress, daemon_pid, heartbeat_path, load_average, scheduling, verdicts

TIMINGS = {"200ms/1s": (200, 1000), "10ms/50ms": (10, 50)}
SLOW_START_S = 20
LOAD_BEFORE_S = 5.0  # under load before the power-off: false verdicts while both are up count too
LOAD_AFTER_S = 5.0  # and after the takeover is done
TAKEOVER_TIMEOUT_S = 90.0

# The lab's service, with a start that takes as long as the node's $STATE.slow-start file says, spent
# writing and fsyncing 4 MB at a time on the node's disk (a database start's fsync of its data directory).
SLOW_SERVICE = """#!/bin/sh
STATE=/dev/shm/hbdsvc.running
DATA=/var/log/hbd/hbdsvc.fsync
case "$1" in
  start) [ -e "$STATE.fail-start" ] && { echo "hbdsvc: cannot start"; exit 1; }
         secs=$(cat "$STATE.slow-start" 2>/dev/null || echo 0)
         end=$(( $(date +%s) + secs ))
         while [ "$(date +%s)" -lt "$end" ]; do
           dd if=/dev/zero of="$DATA" bs=1M count=4 conv=fsync 2>/dev/null
         done
         rm -f "$DATA"; touch "$STATE"; echo "hbdsvc started";;
  stop) rm -f "$STATE"; echo "hbdsvc stopped";;
  status) if [ -e "$STATE" ]; then echo "running"; exit 0; fi; echo "stopped"; exit 3;;
  *) echo "usage: $0 start|stop|status"; exit 1;;
esac
"""


@dataclass
class Run:
    took_over: bool
    takeover_s: float | None  # power-off -> n2 stable and running the group
    false_self: int
    false_peer: int
    late: int
    late_max_ms: int
    path: dict[str, Any]
    sched: str
    load: float
    offending: list[str]


def settings(keepalive_ms: int, deadtime_ms: int) -> ClusterSettings:
    return ClusterSettings(keepalive_ms=keepalive_ms, deadtime_ms=deadtime_ms,
                           initdead_ms=max(2000, 2 * deadtime_ms), auto_failback="off")


def one_run(keepalive_ms: int, deadtime_ms: int) -> Run:
    lab = Lab.up(nodes=2, media=2)
    cluster = HbdCluster(lab, settings(keepalive_ms, deadtime_ms))
    try:
        cluster.write_config()
        for node in lab.nodes:
            script = lab.path(node, "/etc/ha.d") / "resource.d" / SERVICE
            script.write_text(SLOW_SERVICE)
        lab.exec("n2", ["sh", "-c", f"echo {SLOW_START_S} > {SERVICE_STATE}.slow-start"])
        cluster.start("n1")
        cluster.start("n2")
        cluster.wait_owner("n1", timeout=20)
        cluster.wait_owner("n1", timeout=10, ask="n2")
        cluster.wait_configured_deadtime("n2", "n1")
        pid = daemon_pid(lab, "n2")
        sched = scheduling(pid) if pid else "no daemon"
        with Stress(LOAD_BEFORE_S + SLOW_START_S + TAKEOVER_TIMEOUT_S + LOAD_AFTER_S, "takeover_under_load"):
            time.sleep(LOAD_BEFORE_S)
            peer_alive_until = len(cluster.log("n2"))
            off = time.monotonic()
            cluster.power_off("n1")
            took: float | None = None
            deadline = off + TAKEOVER_TIMEOUT_S
            while time.monotonic() < deadline:
                st = cluster.status("n2")
                if st is not None and cluster.owner(st) == "n2" and st["stable"] and cluster.service_running("n2"):
                    took = time.monotonic() - off
                    break
                time.sleep(0.2)
            time.sleep(LOAD_AFTER_S)
            load = load_average()
            path = heartbeat_path(cluster.status("n2"))
        v = verdicts(cluster.log("n2"), "n2", "n1", peer_alive_until)
        return Run(took is not None, took, v.false_self, v.peer_dead, v.late, v.late_max_ms, path, sched, load, v.lines)
    finally:
        cluster.close()
        lab.down()
        left = traces(lab.name)
        if left:
            raise SystemExit(f"lab {lab.name} left traces: {left}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="runs per timing")
    parser.add_argument("--timing", nargs="+", choices=sorted(TIMINGS), default=list(TIMINGS))
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("takeover_under_load: needs root (network namespaces)", file=sys.stderr)
        return 2
    bad = 0
    for timing in args.timing:
        keepalive_ms, deadtime_ms = TIMINGS[timing]
        runs: list[Run] = []
        for n in range(1, args.runs + 1):
            r = one_run(keepalive_ms, deadtime_ms)
            runs.append(r)
            took = f"{r.takeover_s:.1f} s" if r.takeover_s is not None else "NOT DONE"
            print(f"{timing} run {n}: takeover {took}; false self-deaths {r.false_self}, peer judged dead while "
                  f"up {r.false_peer}; late heartbeats {r.late} (max {r.late_max_ms} ms); timer lag max "
                  f"{r.path['timer_lag_max_ms']} ms, GC max {r.path['gc_pause_max_ms']} ms, read late "
                  f"{r.path['read_late']}; load {r.load:.1f}; n2 threads {r.sched}", flush=True)
            for line in r.offending:
                print(f"    {line}", flush=True)
        lags = [r.path["timer_lag_max_ms"] or 0 for r in runs]
        done = sum(r.took_over for r in runs)
        false_self = sum(r.false_self for r in runs)
        false_peer = sum(r.false_peer for r in runs)
        bad += false_self + false_peer + (len(runs) - done)
        took_s = sorted(r.takeover_s for r in runs if r.takeover_s is not None)
        print(f"\n{timing}: {len(runs)} runs; takeovers done {done}/{len(runs)}"
              f"{f' (median {took_s[len(took_s) // 2]:.1f} s)' if took_s else ''}; false self-deaths "
              f"{false_self}; live peer judged dead {false_peer}; late heartbeats {sum(r.late for r in runs)} "
              f"(max {max(r.late_max_ms for r in runs)} ms); timer lag max {max(lags)} ms; load "
              f"{min(r.load for r in runs):.1f}-{max(r.load for r in runs):.1f}\n", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
