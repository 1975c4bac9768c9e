"""PostgreSQL behind the VIP through repeated failures, both forms of etc/examples/postgresql/ (lab values of
tests/lab/pg_config.py): a client in the client namespace commits numbered rows over the VIP all along
(tests/lab/pg_workload.py). One lab per form; each round, on the node A that serves:

  kill -9 postmaster   status check fails -> restarted in place (beyond max_restarts=2 in 10 min: moved)
  kill -9 hbd          haresources: the peer's takeover fails (the address answers), A's daemon started again
                       keeps it; cluster.conf: A's daemon started again stops it first, the cluster places it
  move                 hbd-standby on A (haresources) / hbd svc relocate pgsql -m B (cluster.conf) -> B
  stop hbd             graceful stop of hbd on the holder -> the other node; the daemon is started again
  power-off            of the holder -> the other node; it is booted and its daemon started again

After each event: every acknowledged commit on the node now serving, none twice, none never committed;
PostgreSQL's last start in its log is clean or a completed crash recovery; the invariant watcher (file
system mounted once, VIP on one node, one Primary while connected) on throughout. Outage: the longest
time without an acknowledged commit, from the last one before the event (0: the client saw no failure;
a commit hanging on a node that lost power counts). Prints every event, then per scenario the
median / max outage and the lost commits.

    sudo .venv/bin/python bench/postgresql_failover.py --rounds 3 --form haresources
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "lab"))

from pg_lab import FORMS, PgCluster, Settled, pg_cluster  # noqa: E402

SCENARIOS = ("kill -9 postmaster", "kill -9 hbd", "move", "stop hbd", "power-off")


def one_round(pg: PgCluster) -> list[Settled]:
    out = []
    a = pg.active()
    out.append(pg.settle("kill -9 postmaster", pg.kill_postmaster(a), expect=None))
    a = pg.active()
    out.append(pg.settle("kill -9 hbd", pg.kill_hbd_and_restart(a), expect=a if pg.form == "haresources" else None))
    a = pg.active()
    out.append(pg.settle("move", pg.move(a), expect=pg.other(a)))
    a = pg.active()
    out.append(pg.settle("stop hbd", pg.stop_hbd(a), expect=pg.other(a)))
    pg.start_hbd(a)
    pg.wait_joined(a, pg.other(a))
    a = pg.active()
    out.append(pg.settle("power-off", pg.power_off(a), expect=pg.other(a)))
    pg.boot(a)
    pg.wait_joined(a, pg.other(a))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--form", choices=(*FORMS, "both"), default="both")
    args = ap.parse_args()
    results: dict[tuple[str, str], list[Settled]] = {}
    for form in FORMS if args.form == "both" else (args.form,):
        t0 = time.monotonic()
        with pg_cluster(form) as pg:
            for r in range(args.rounds):
                for s in one_round(pg):
                    results.setdefault((form, s.event), []).append(s)
                    print(f"{form} round {r + 1} {s.event}: on {s.node}, outage {s.outage_s:.2f} s, "
                          f"{s.verdict.describe()}, {s.log}", flush=True)
            acked = len(pg.journal().acked)
        print(f"{form}: {args.rounds} rounds in {time.monotonic() - t0:.0f} s, {acked} commits acknowledged, "
              "invariant watcher clean", flush=True)
    print("\n| form | scenario | events | outage median / max | lost acknowledged commits | in doubt by then (present / absent) |")
    print("|---|---|---|---|---|---|")
    for (form, event), rs in results.items():
        outs = [r.outage_s for r in rs]
        lost = sum(len(r.verdict.lost) for r in rs)
        print(f"| {form} | {event} | {len(rs)} | {statistics.median(outs):.2f} s / {max(outs):.2f} s | {lost} | "
              f"{rs[-1].verdict.doubt_present} / {rs[-1].verdict.doubt_absent} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
