"""Where the outage after a kill -9 of the postmaster goes: one lab (tests/lab/pg_lab.py), a few kills, and for
each the daemon's log lines stamped as they appear (polled every 10 ms), relative to the kill, with the
outage, PostgreSQL's own start (from its log) and the client's first failed statement.

    sudo .venv/bin/python bench/postgresql_kill_timing.py --form cluster --kills 3
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "lab"))

import pg_fencing  # noqa: E402
from pg_lab import FORMS, PgCluster, pg_cluster  # noqa: E402

POLL_S = 0.01


def stamped(pg: PgCluster, node: str, stop: threading.Event, into: list[tuple[float, str]]) -> None:
    """Append (when seen, line) for every new line of `node`'s daemon log until `stop`."""
    seen = len(pg_fencing.daemon_log(pg, node))
    while not stop.is_set():
        text = pg_fencing.daemon_log(pg, node)
        into.extend((time.monotonic(), ln) for ln in text[seen:].splitlines())
        seen = len(text)
        stop.wait(POLL_S)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--form", choices=FORMS, default="haresources")
    ap.add_argument("--kills", type=int, default=3)
    args = ap.parse_args()
    with pg_cluster(args.form) as pg:
        for k in range(args.kills):
            node, lines, stop = pg.active(), [], threading.Event()
            reader = threading.Thread(target=stamped, args=(pg, node, stop, lines))
            reader.start()
            try:
                at = pg.kill_postmaster(node)
                settled = pg.settle("kill -9 postmaster", at, expect=None)
            finally:
                stop.set()
                reader.join(timeout=10)
            first_error = min(e for e in pg.journal().error_times if e >= at)
            print(f"--- kill {k + 1} on {node}: outage {settled.outage_s:.2f} s, PostgreSQL's own start "
                  f"{settled.start_s} s, the client's first failure +{first_error - at:.2f} s")
            for when, line in lines:
                if ": debug: " not in line:
                    print(f"+{when - at:6.2f} {line[16:220]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
