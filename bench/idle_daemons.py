"""Idle cost of whole daemons: CPU % and memory per node of hbd, Heartbeat 3.0.6 and keepalived in the lab.

Each daemon runs as a two-node pair (bench/pairs.py: n1 holds the VIP group, n2 is the standby) with the
keepalive asked for (deadtime 3 s / 500 ms / 50 ms at 1 s / 100 ms / 10 ms; keepalived: advert_int =
keepalive). After a settling time, every process of the daemon on each node is sampled over a window:
CPU from /proc/PID/stat (utime + stime, all threads, children that exited during the window not counted),
RSS (VmRSS summed over the node's processes, as `ps` shows it) and PSS (smaps_rollup: shared pages divided
among the processes sharing them, so a forked child is not counted twice).

    sudo .venv/bin/python bench/idle_daemons.py --daemon hbd heartbeat keepalived --keepalive-ms 1000 100 10
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hbd.lab import Lab  # noqa: E402

from pairs import PAIRS, HbdVariantPair  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
DEADTIME_MS = {1000: 3000, 100: 500, 10: 50}


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (all threads)


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB; (0, 0) for a process that is gone."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def make_pair(daemon: str, lab: Lab, keepalive_ms: int, deadtime_ms: int, before: str | None):  # type: ignore[no-untyped-def]
    if daemon == "hbd-before":
        return HbdVariantPair(lab, keepalive_ms, deadtime_ms, tree=before)
    if daemon == "hbd-onfault":
        return HbdVariantPair(lab, keepalive_ms, deadtime_ms, onfault=True)
    return PAIRS[daemon](lab, keepalive_ms, deadtime_ms)


def measure(daemon: str, keepalive_ms: int, seconds: float, settle: float,
            before: str | None = None) -> list[dict[str, object]]:
    """One figure set per node: cpu %, rss and pss (KiB), the processes counted."""
    deadtime_ms = DEADTIME_MS.get(keepalive_ms, 5 * keepalive_ms)
    with Lab.up(nodes=2, media=2) as lab:
        pair = make_pair(daemon, lab, keepalive_ms, deadtime_ms, before)
        try:
            pair.start()
            time.sleep(settle)
            pids = {node: pair.pids(node) for node in lab.nodes}
            cpu0 = {node: sum(cpu_seconds(p) for p in pids[node]) for node in lab.nodes}
            t0 = time.monotonic()
            time.sleep(seconds)
            t1 = time.monotonic()
            out = []
            for node in lab.nodes:
                cpu1 = sum(cpu_seconds(p) for p in pids[node])
                mem = [memory_kib(p) for p in pids[node]]
                out.append({"node": node, "cpu_pct": 100 * (cpu1 - cpu0[node]) / (t1 - t0),
                            "rss_kib": sum(m[0] for m in mem), "pss_kib": sum(m[1] for m in mem),
                            "processes": [process_name(p) for p in pids[node]]})
            return out
        finally:
            pair.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--daemon", choices=[*PAIRS, "hbd-before", "hbd-onfault"], nargs="+", default=list(PAIRS),
                        help="hbd-before: the hbd package under --before DIR; hbd-onfault: hbd with "
                             "mlockall(MCL_ONFAULT) (bench/hbd_variant.py)")
    parser.add_argument("--before", help="a directory holding an older hbd package (for hbd-before)")
    parser.add_argument("--before-label", default="", help="what --before is (a commit), for the figures")
    parser.add_argument("--keepalive-ms", type=int, nargs="+", default=[1000, 100, 10])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--settle", type=float, default=5)
    parser.add_argument("--json", type=Path, help="append the figures here (read by run_all.py)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("idle_daemons: needs root (network namespaces)", file=sys.stderr)
        return 2
    print(f"idle, {args.seconds:g} s window after {args.settle:g} s of settling")
    print("| daemon | keepalive | node | CPU % | RSS | PSS | processes |\n|---|---|---|---|---|---|---|")
    cells = []
    for daemon in args.daemon:
        for keepalive in args.keepalive_ms:
            if daemon == "hbd-before" and not args.before:
                parser.error("hbd-before needs --before DIR")
            for fig in measure(daemon, keepalive, args.seconds, args.settle, args.before):
                procs = fig["processes"]
                print(f"| {daemon} | {keepalive} ms | {fig['node']} | {fig['cpu_pct']:.2f} % | "
                      f"{int(fig['rss_kib']) / 1024:.1f} MiB | {int(fig['pss_kib']) / 1024:.1f} MiB | "
                      f"{len(procs)}: {' '.join(procs)} |", flush=True)  # type: ignore[arg-type]
                cells.append({"daemon": daemon, "keepalive_ms": keepalive, **fig,
                              **({"label": args.before_label} if daemon == "hbd-before" else {})})
    if args.json:
        with args.json.open("a") as out:
            for cell in cells:
                out.write(json.dumps({"kind": "idle", **cell}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
