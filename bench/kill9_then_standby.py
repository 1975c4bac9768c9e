"""Issue 9 bug 1, repeated: kill -9 of the active daemon (the peer's takeover is refused by the address
probe), restart, then `hbd-standby` on it and `hbd-standby` back. Each run on a fresh lab; prints, per
run, each command's exit code and where the group runs afterwards, and counts false reports (exit 0
although the group did not move, or non-zero although it did).

    sudo .venv/bin/python bench/kill9_then_standby.py --runs 10
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "lab"))

from kill9_standby import Outcome, kill9_then_standby  # noqa: E402

from hbd.lab import Lab  # noqa: E402
from hbd.lab.cleanup import traces  # noqa: E402
from hbd.lab.hbd_cluster import ClusterSettings, HbdCluster  # noqa: E402

SETTINGS = ClusterSettings(keepalive_ms=200, deadtime_ms=1000, initdead_ms=2000)


def one_run() -> Outcome:
    lab = Lab.up(nodes=2, media=2)
    cluster = HbdCluster(lab, SETTINGS)
    try:
        cluster.write_config()
        cluster.start("n1")
        cluster.start("n2")
        cluster.wait_owner("n1", timeout=20)
        cluster.wait_owner("n1", timeout=10, ask="n2")
        cluster.wait_configured_deadtime("n2", "n1")
        return kill9_then_standby(cluster, SETTINGS.deadtime_ms / 1000)
    finally:
        cluster.close()
        lab.down()
        left = traces(lab.name)
        if left:
            raise SystemExit(f"lab {lab.name} left traces: {left}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("kill9_then_standby: needs root (network namespaces)", file=sys.stderr)
        return 2
    false_reports = refused = moved = commands = 0
    for run in range(1, args.runs + 1):
        begin = time.monotonic()
        outcome = one_run()
        refused += outcome.refused_takeover
        for move in outcome.moves:
            commands += 1
            moved += move.moved
            false_reports += move.false_report
        cells = "; ".join(f"{m.command} on {m.node}: exit {m.rc}, runs on {'+'.join(m.runs_on) or 'nobody'}"
                          f"{' FALSE REPORT' if m.false_report else ''} ({m.text.splitlines()[-1] if m.text else ''})"
                          for m in outcome.moves)
        print(f"run {run}: takeover {'refused' if outcome.refused_takeover else 'NOT refused'}; {cells} "
              f"[{time.monotonic() - begin:.1f} s]", flush=True)
    print(f"\n{args.runs} runs: takeover refused {refused}/{args.runs}; {moved}/{commands} commands moved the "
          f"group; false reports: {false_reports}")
    return 1 if false_reports else 0


if __name__ == "__main__":
    sys.exit(main())
