"""Monitoring of a haresources group, repeated: kill -9 of an LSB service's process (the lab's `dbsvc`
behind the VIP, tests/lab/monitor_lab.py) and the time, seen by a client asking VIP:5432 every 20 ms,
until it answers again.

Each run on a fresh two-node lab (real daemons), ha.cf `monitor interval=I timeout=T max_restarts=1`:
the first kill -9 on n1 -> the group is restarted in place (seconds until n1 answers again); the second
kill -> beyond max_restarts, the group is handed to n2 by the standby exchange (seconds until n2
answers). The invariant watcher checks the VIP is never on both nodes. Prints every run, then median and
max of each figure.

    sudo .venv/bin/python bench/monitor_recovery.py --runs 10 --interval 2 --timeout 5
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "lab"))

from daemon_lab import lab_cluster, watched  # noqa: E402
from monitor_lab import PORT, MonitoredSettings, answered_again, install_service, kill9, monitor_line  # noqa: E402

from hbd.lab.probes import VipProbe  # noqa: E402

SETTINGS = MonitoredSettings(keepalive_ms=200, deadtime_ms=1000, initdead_ms=2000)


def one_run(interval_s: float, timeout_s: float) -> tuple[float, float]:
    """(seconds until running again in place, seconds until running on the peer)."""
    bound = interval_s + timeout_s + 30
    with lab_cluster(SETTINGS) as cluster:
        cluster.write_config(hacf_extra=monitor_line(interval_s, timeout_s, max_restarts=1))
        install_service(cluster)
        cluster.start("n1")
        cluster.start("n2")
        cluster.wait_owner("n1", timeout=20)
        cluster.wait_owner("n1", timeout=10, ask="n2")
        with watched(cluster):
            probe = VipProbe(cluster.lab, SETTINGS.vip, port=PORT, interval=0.02).start()
            try:
                if not probe.wait_for("n1", 10):
                    raise SystemExit(f"the service does not answer: {probe.transitions}")
                _, killed = kill9(cluster, "n1")
                in_place = answered_again(probe, killed, "n1", timeout=bound)
                if in_place is None:
                    raise SystemExit(f"not restarted in place: {probe.transitions[-5:]}")
                # the restart counted, and a check has seen it running, before the second kill
                cluster.wait_status("n1", lambda s: next(g["monitor"] for g in s["groups"])["restarts"] == 1, 10)
                time.sleep(interval_s)
                _, killed = kill9(cluster, "n1")
                on_peer = answered_again(probe, killed, "n2", timeout=bound)
                if on_peer is None:
                    raise SystemExit(f"not moved to the peer: {probe.transitions[-5:]}")
                return in_place, on_peer
            finally:
                probe.stop()


def summary(name: str, figures: list[float]) -> str:
    return (f"{name}: {len(figures)} runs, median {statistics.median(figures):.2f} s, "
            f"max {max(figures):.2f} s, min {min(figures):.2f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--interval", type=float, default=2.0, help="check interval, seconds")
    parser.add_argument("--timeout", type=float, default=5.0, help="check timeout, seconds")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("monitor_recovery: needs root (network namespaces)", file=sys.stderr)
        return 2
    in_place: list[float] = []
    on_peer: list[float] = []
    for run in range(1, args.runs + 1):
        begin = time.monotonic()
        a, b = one_run(args.interval, args.timeout)
        in_place.append(a)
        on_peer.append(b)
        print(f"run {run}: running again in place after {a:.2f} s, on the peer after {b:.2f} s "
              f"[{time.monotonic() - begin:.1f} s]", flush=True)
    print(f"\ncheck interval {args.interval:g} s, timeout {args.timeout:g} s")
    print(summary("killed -> running again in place", in_place))
    print(summary("killed -> running on the peer", on_peer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
