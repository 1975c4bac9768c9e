"""PostgreSQL behind the VIP through repeated failures, both forms of etc/examples/postgresql/ (lab values of
tests/lab/pg_config.py): a client in the client namespace commits numbered rows over the VIP all along
(tests/lab/pg_workload.py). One lab per form (and one more per form, with fencing, for the last two
scenarios); the rounds and what each event checks: tests/lab/pg_rounds.py (make test runs 3 of each:
tests/lab/test_postgresql_rounds_lab.py).

After each event: every acknowledged commit on the node now serving, none twice, none never committed;
PostgreSQL's last start in its log is clean or a completed crash recovery; the invariant watcher (file
system mounted once, VIP on one node, one Primary while connected) on throughout. Outage: the longest
time without an acknowledged commit, from the last one before the event. Each event is printed as it
ends and appended to --results (JSON lines); the summary is over every event in that file, so a long run
can be done in pieces (--max-seconds bounds one piece: no round starts after it).

    sudo .venv/bin/python bench/postgresql_failover.py --rounds 3 --form haresources
    sudo .venv/bin/python bench/postgresql_failover.py --rounds 50 --max-seconds 540 --results /var/tmp/pg.jsonl
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "lab"))

from pg_lab import FORMS, pg_cluster  # noqa: E402
from pg_rounds import FENCED, ORDER, PLAIN, SCENARIOS, fenced_round, plain_round  # noqa: E402


def run_lab(form: str, fencing: bool, rounds: int, wanted: set[str], deadline: float, out: Path) -> bool:
    """Rounds in one lab until `rounds` or the deadline; False when the deadline stopped it."""
    t0 = time.monotonic()
    done = 0
    # the client's own bound: past the last round this piece may start (a round is under 5 min)
    workload_s = min(deadline - t0, 24 * 3600.0) + 600
    with pg_cluster(form, fencing=fencing, workload_s=workload_s) as pg:
        for r in range(rounds):
            if time.monotonic() > deadline:
                break
            events = fenced_round(pg, wanted, r + 1) if fencing else plain_round(pg, wanted)
            with out.open("a") as f:
                for e in events:
                    e = {"form": form, "round": r + 1, **e}
                    f.write(json.dumps(e) + "\n")
                    extra = (f", refused after {e['refused_after_s']} s ({e['survivor_disk']}), "
                             f"{e['acks_while_off']} acknowledged while off" if "refused_after_s" in e else "")
                    print(f"{form} round {r + 1} {e['scenario']}: on {e['node']}, outage {e['outage_s']:.2f} s, "
                          f"lost {e['lost']}, {e['log']}{extra}", flush=True)
            done += 1
        acked = len(pg.journal().acked)
    print(f"{form}{' (fencing)' if fencing else ''}: {done} rounds in {time.monotonic() - t0:.0f} s, {acked} commits "
          "acknowledged, invariant watcher clean", flush=True)
    return done == rounds


def summary(path: Path) -> None:
    events: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for line in path.read_text().splitlines():
        e = json.loads(line)
        events.setdefault((e["form"], e["scenario"]), []).append(e)
    print(f"\nall events in {path}:")
    print("| form | scenario | events | outage median / max | lost acknowledged commits | duplicates / never committed |")
    print("|---|---|---|---|---|---|")
    for (form, scenario), es in sorted(events.items(), key=lambda kv: (kv[0][0], ORDER.index(kv[0][1]) if kv[0][1] in ORDER else 0)):
        outs = [e["outage_s"] for e in es]
        bad = sum(e["duplicates"] for e in es), sum(e["never_committed"] for e in es)
        print(f"| {form} | {scenario} | {len(es)} | {statistics.median(outs):.2f} s / {max(outs):.2f} s | "
              f"{sum(e['lost'] for e in es)} | {bad[0]} / {bad[1]} |")
        starts = [e for e in es if e.get("pg_start_s") is not None and "before" in e]
        if scenario == "kill -9 postmaster" and starts:  # the target: within the check interval + its own start
            for how, part in (("in place", [e for e in starts if e["node"] == e["before"]]),
                              ("moved", [e for e in starts if e["node"] != e["before"]])):
                if part:
                    own = [e["pg_start_s"] for e in part]
                    beyond = [e["outage_s"] - e["pg_start_s"] for e in part]
                    print(f"|  | {how}: PostgreSQL's own start; the outage beyond it (median / max) | {len(part)} | "
                          f"{statistics.median(own):.2f} s / {max(own):.2f} s; {statistics.median(beyond):.2f} s / "
                          f"{max(beyond):.2f} s | | |")
        refused = [e["refused_after_s"] for e in es if "refused_after_s" in e]
        if refused:
            print(f"|  | refused after (median / max) | {len(refused)} | {statistics.median(refused):.2f} s / "
                  f"{max(refused):.2f} s | acknowledged while off: {sum(e['acks_while_off'] for e in es)} | |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="events of each scenario (default 3)")
    ap.add_argument("--form", choices=(*FORMS, "both"), default="both")
    ap.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS), metavar="SCENARIO",
                    help=f"any of: {', '.join(repr(s) for s in SCENARIOS)} (default all)")
    ap.add_argument("--max-seconds", type=float, default=None, help="start no round after this many seconds")
    ap.add_argument("--results", type=Path, default=None, help="JSON lines, appended to (default: a new file)")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    out = args.results or Path(f"/var/tmp/postgresql_failover.{time.strftime('%Y%m%dT%H%M%S')}.jsonl")
    out.touch()
    print(f"results: {out}", flush=True)
    deadline = time.monotonic() + (args.max_seconds if args.max_seconds is not None else float("inf"))
    wanted = set(args.scenarios)
    complete = True
    for form in FORMS if args.form == "both" else (args.form,):
        for fencing, names in ((False, PLAIN), (True, FENCED)):
            if wanted & set(names) and time.monotonic() < deadline:
                complete &= run_lab(form, fencing, args.rounds, wanted, deadline, out)
            elif wanted & set(names):
                complete = False
    summary(out)
    if not complete:
        print(f"\nstopped by --max-seconds before {args.rounds} rounds everywhere: run again with --results {out} "
              "and the scenarios still short to add to it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
