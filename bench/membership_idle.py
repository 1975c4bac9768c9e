"""Idle cost of the heartbeat layer: CPU % and RSS of one `hbd membership` process in a two-node lab.

Both nodes run `hbd membership` on two bcast media; after a settling time the script samples n1's process
(/proc/PID/stat utime+stime, /proc/PID/status VmRSS) over a window, for each keepalive asked for.

    sudo .venv/bin/python bench/membership_idle.py --keepalive-ms 200 1000 --seconds 60
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "lab"))

from hbd.lab import Lab  # noqa: E402
from hbd_member import hacf_text, is_node, start_member, write_config  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def measure(keepalive_ms: int, seconds: float, settle: float) -> tuple[float, int]:
    with Lab.up(nodes=2, media=2) as lab:
        for node in lab.nodes:
            write_config(lab, node, hacf_text(lab, "bcast", keepalive_ms=keepalive_ms,
                                              deadtime_ms=max(10 * keepalive_ms, 2000), initdead_ms=20000))
        members = [start_member(lab, node) for node in lab.nodes]
        try:
            members[0].wait_for(is_node("n2", "active"), timeout=15)
            time.sleep(settle)
            pid = members[0].proc.pid
            cpu0, t0 = cpu_seconds(pid), time.monotonic()
            time.sleep(seconds)
            cpu1, t1 = cpu_seconds(pid), time.monotonic()
            return 100 * (cpu1 - cpu0) / (t1 - t0), rss_kib(pid)
        finally:
            for member in members:
                member.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keepalive-ms", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--settle", type=float, default=5)
    args = parser.parse_args()
    print("| keepalive | CPU % (one node, idle) | RSS |")
    print("|---|---|---|")
    for keepalive in args.keepalive_ms:
        cpu, rss = measure(keepalive, args.seconds, args.settle)
        print(f"| {keepalive} ms | {cpu:.2f} % | {rss / 1024:.1f} MiB |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
