"""Repeats the daemon's lab scenarios (each test of tests/lab/test_daemon_*.py) N times with the invariant
watchers on, and prints per scenario how many runs passed and the outages the tests printed.

    sudo .venv/bin/python bench/failover_scenarios.py --runs 10 [--mixed] [-n 2]
"""
from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FILES = ["tests/lab/test_daemon_failover.py", "tests/lab/test_daemon_admin.py", "tests/lab/test_daemon_failures.py"]
MIXED = ["tests/lab/test_daemon_mixed.py"]


def one_round(files: list[str], workers: int, report: Path) -> tuple[dict[str, str | None], str]:
    """Each test's failure text (None when it passed), and pytest's output."""
    argv = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", f"--junitxml={report}", *files]
    if workers > 1:
        argv[4:4] = ["-n", str(workers)]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=3600)
    results: dict[str, str | None] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
        bad = [child for child in case if child.tag in ("failure", "error")]
        results[name] = (bad[0].get("message") or bad[0].text or "failed") if bad else None
    return results, done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--mixed", action="store_true", help="also the mixed Heartbeat/hbd cluster tests")
    parser.add_argument("-n", type=int, default=2, help="pytest-xdist workers")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("failover_scenarios: needs root (network namespaces)", file=sys.stderr)
        return 2
    files = FILES + (MIXED if args.mixed else [])
    passed: collections.Counter[str] = collections.Counter()
    seen: collections.Counter[str] = collections.Counter()
    outages: dict[str, list[float]] = collections.defaultdict(list)
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            results, out = one_round(files, args.n, Path(tmp) / f"run{run}.xml")
            for name, failure in results.items():
                seen[name] += 1
                passed[name] += failure is None
                if failure is not None:
                    failures.append(f"run {run + 1} {name}: {failure[:1500]}")
            for value in re.findall(r"client outage ([\d.]+) s", out):
                outages["power-off (200 ms / 1 s)"].append(float(value))
            for line in re.findall(r"handover outages \(client probe every 20 ms\): (.*)", out):
                outages["handover, VipProbe 20 ms"].extend(float(v) / 1000 for v in re.findall(r"(\d+) ms", line))
            failed = [n for n, failure in results.items() if failure is not None]
            print(f"run {run + 1}/{args.runs}: {len(results) - len(failed)}/{len(results)} passed"
                  + (f"; failed: {', '.join(failed)}" if failed else ""), file=sys.stderr, flush=True)
    print(f"| scenario | passed |\n|---|---|")
    for name in sorted(seen):
        print(f"| {name} | {passed[name]}/{seen[name]} |")
    for what, values in outages.items():
        values.sort()
        print(f"\n{what}: median {values[len(values) // 2] * 1000:.0f} ms, max {values[-1] * 1000:.0f} ms "
              f"over {len(values)} samples")
    for text in failures:
        print(f"\n{text}")
    return 0 if passed == seen else 1


if __name__ == "__main__":
    sys.exit(main())
