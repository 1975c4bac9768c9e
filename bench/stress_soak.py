"""Issue 17: false deaths under stress-ng CPU + IO on both cores, two hbd nodes at keepalive 10 ms /
deadtime 50 ms (default), nothing failing for --minutes.

Every death verdict is false here (both nodes stay up and connected): counted per node are "node X: is
dead" (itself or the peer), "No local heartbeat", daemon restarts, and group moves; with the late
heartbeats (warntime exceeded, the largest interval seen) and the heartbeat path's counters from
`hbd status` (timer lag, GC pauses, packets read late) and the daemon threads' scheduling (chrt -p).

    sudo .venv/bin/python bench/stress_soak.py --minutes 10
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from hbd.lab import Lab
from hbd.lab.cleanup import traces
from hbd.lab.hbd_cluster import ClusterSettings, HbdCluster

from stress_common import Stress, daemon_pid, heartbeat_path, load_average, scheduling, verdicts

POLL_S = 15.0  # how often the owner is checked (each check is a `hbd status` process on a loaded machine)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--keepalive-ms", type=int, default=10)
    parser.add_argument("--deadtime-ms", type=int, default=50)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("stress_soak: needs root (network namespaces)", file=sys.stderr)
        return 2
    if not 0 < args.minutes <= 60:
        parser.error("--minutes must be in (0, 60]")
    settings = ClusterSettings(keepalive_ms=args.keepalive_ms, deadtime_ms=args.deadtime_ms,
                               initdead_ms=max(2000, 2 * args.deadtime_ms), auto_failback="off")
    lab = Lab.up(nodes=2, media=2)
    cluster = HbdCluster(lab, settings)
    seconds = args.minutes * 60
    moves = 0
    loads: list[float] = []
    try:
        cluster.write_config()
        cluster.start("n1")
        cluster.start("n2")
        cluster.wait_owner("n1", timeout=20)
        cluster.wait_owner("n1", timeout=10, ask="n2")
        for node, peer in (("n1", "n2"), ("n2", "n1")):
            cluster.wait_configured_deadtime(node, peer)
        sched = {n: scheduling(pid) if (pid := daemon_pid(lab, n)) else "no daemon" for n in lab.nodes}
        before = {n: len(cluster.log(n)) for n in lab.nodes}
        begin = time.monotonic()
        with Stress(seconds, f"stress_soak {args.minutes} min"):
            owner = "n1"
            while time.monotonic() - begin < seconds:
                time.sleep(min(POLL_S, max(0.0, seconds - (time.monotonic() - begin))))
                loads.append(load_average())
                st = cluster.status("n2")
                now_owner = cluster.owner(st) if st else None
                if now_owner != owner:
                    moves += 1
                    print(f"  {time.monotonic() - begin:.0f} s: the group is on {now_owner} (was {owner})", flush=True)
                    owner = now_owner or owner
            elapsed = time.monotonic() - begin
            paths = {n: heartbeat_path(cluster.status(n)) for n in lab.nodes}
        total_false = 0
        print(f"{elapsed:.0f} s of stress-ng (CPU + IO, both cores) at keepalive {args.keepalive_ms} ms / "
              f"deadtime {args.deadtime_ms} ms; load average {min(loads):.1f}-{max(loads):.1f}")
        for node, peer in (("n1", "n2"), ("n2", "n1")):
            v = verdicts(cluster.log(node)[before[node]:], node, peer)
            false = v.false_self + v.peer_dead
            total_false += false
            p = paths[node]
            print(f"{node}: false deaths {false} (itself {v.self_dead}, peer {v.peer_dead}, no local heartbeat "
                  f"{v.no_local}, restarts {v.restarts}); late heartbeats {v.late} (max interval {v.late_max_ms} ms); "
                  f"timer lag max {p['timer_lag_max_ms']} ms {p['timer_lag_ms']}; GC max {p['gc_pause_max_ms']} ms; "
                  f"read late {p['read_late']}; threads {sched[node]}")
            for line in v.lines:
                print(f"    {line}")
        print(f"group moves: {moves}; false deaths in all: {total_false}")
        return 1 if total_false or moves else 0
    finally:
        cluster.close()
        lab.down()
        left = traces(lab.name)
        if left:
            print(f"lab {lab.name} left traces: {left}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
