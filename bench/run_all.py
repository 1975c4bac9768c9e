"""Runs every benchmark of bench/ one after the other and prints their figures (`make bench`, as root).

Quick settings by default, so that a run takes a few minutes; `--full` uses the settings whose figures
bench/README.md records (50 power-offs, 1 M fuzz inputs, 10 runs per scenario), which take much longer.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (script, quick arguments, full arguments)
BENCHES: list[tuple[str, list[str], list[str]]] = [
    ("plan_10k.py", [], []),
    ("lab_updown.py", ["--rounds", "3"], ["--rounds", "10"]),
    ("agents_garp.py", ["--rounds", "5"], ["--rounds", "20"]),
    ("agents_group.py", ["--rounds", "3"], ["--rounds", "10"]),
    ("membership_idle.py", ["--keepalive-ms", "200", "1000", "--seconds", "10"],
     ["--keepalive-ms", "200", "1000", "--seconds", "60"]),
    ("membership_detection.py", ["--rounds", "5", "--keepalive-ms", "200", "--deadtime-ms", "2000"],
     ["--rounds", "50", "--keepalive-ms", "200", "--deadtime-ms", "2000"]),
    ("fuzz_messages.py", ["--inputs", "100000", "--seed", "1"], ["--inputs", "1000000", "--seed", "1"]),
    ("failover_daemon.py", ["--runs", "2"], ["--runs", "10"]),
    ("failover_scenarios.py", ["--runs", "1"], ["--runs", "10", "--mixed"]),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the settings of bench/README.md (slow)")
    parser.add_argument("only", nargs="*", help="run only these scripts (e.g. plan_10k.py)")
    args = parser.parse_args()
    failed = []
    for script, quick, full in BENCHES:
        if args.only and script not in args.only:
            continue
        argv = [sys.executable, str(HERE / script), *(full if args.full else quick)]
        print(f"\n==> {' '.join(argv[1:])}", flush=True)
        started = time.monotonic()
        rc = subprocess.call(argv, timeout=4 * 3600)
        print(f"<== {script}: exit {rc} after {time.monotonic() - started:.0f} s", flush=True)
        if rc != 0:
            failed.append(script)
    if failed:
        print(f"\nfailed: {' '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
