"""pgbench over the VIP with a power-off of the active node in the middle, either form of
etc/examples/postgresql/ (lab values of tests/lab/pg_config.py; the invariant watcher on throughout).

Debian's pgbench (postgresql-15) runs in the lab's client namespace: `pgbench -i -s SCALE`, then
`pgbench -c 4 -j 2 -T 60 -P 1` (TPC-B-like, fsync and synchronous_commit on). Halfway, the node holding
the database loses power. pgbench does not reconnect: a client whose connection fails is aborted (with
tcp_user_timeout=3000 in the connection string, a connection to the dead node fails after 3 s instead of
hanging), and when every client is aborted pgbench exits. It is then started again, every 0.2 s until it
connects, for the rest of the 60 s. Printed: TPS before (per-second progress lines up to the power-off),
TPS after (the restarted pgbench's own figure), the time without a transaction, and the errors (aborted
clients, failed transactions, failed starts).

    sudo .venv/bin/python bench/postgresql_pgbench.py --form haresources
"""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "lab"))

import pg_config as cfg  # noqa: E402
from pg_lab import FORMS, PG, PgCluster, pg_cluster  # noqa: E402

PGBENCH = f"{PG}/pgbench"
CONNINFO = f"host={cfg.VIP} user=postgres dbname=postgres connect_timeout=2 tcp_user_timeout=3000"
PROGRESS = re.compile(r"progress: (\d+\.\d+) s, (\d+\.\d+) tps")
TPS_LINE = re.compile(r"tps = (\d+\.\d+) \(without initial connection time\)")
ABORTED = re.compile(r"client \d+ aborted")
FAILED = re.compile(r"number of failed transactions: (\d+)")
PROCESSED = re.compile(r"number of transactions actually processed: (\d+)")


@dataclass
class Run:
    began: float                   # wall clock (pgbench's --progress-timestamp is the wall clock too)
    output: str
    returncode: int

    def progress(self) -> list[tuple[float, float]]:
        return [(float(t), float(tps)) for t, tps in PROGRESS.findall(self.output)]

    def tps(self) -> float | None:
        m = TPS_LINE.search(self.output)
        return float(m.group(1)) if m else None

    def processed(self) -> int:
        m = PROCESSED.search(self.output)
        return int(m.group(1)) if m else 0


@dataclass
class Bench:
    runs: list[Run] = field(default_factory=list)
    failed_starts: int = 0

    def text(self) -> str:
        return "".join(r.output for r in self.runs)


def pgbench(pg, seconds: int, clients: int) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    return pg.lab.client_spawn([PGBENCH, "-c", str(clients), "-j", "2", "-T", str(seconds), "-P", "1",
                                "--progress-timestamp", "-n", CONNINFO],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def run_bench(form: str, duration: int, clients: int, scale: int, event_at: float,
              kind: type = PgCluster) -> tuple[Bench, float, str]:
    """`kind`: PgCluster (hbd) or postgresql_heartbeat.HeartbeatPg (Heartbeat 3.0.6, haresources only)."""
    with pg_cluster(form, workload=False, kind=kind) as pg:
        init = pg.lab.client_exec([PGBENCH, "-i", "-s", str(scale), "-q", CONNINFO], timeout=300, check=False)
        assert init.returncode == 0, init.stdout + init.stderr
        bench = Bench()
        start = time.time()
        end = start + duration
        killed_at = 0.0
        victim = pg.active()
        while time.time() < end - 1:
            began = time.time()
            proc = pgbench(pg, max(1, int(end - began)), clients)
            while proc.poll() is None:
                if not killed_at and time.time() >= start + event_at:
                    killed_at = time.time()
                    pg.power_off(victim)
                if time.time() > end + 30:
                    proc.kill()
                time.sleep(0.05)
            out = proc.stdout.read() if proc.stdout else ""
            run = Run(began, out, proc.returncode)
            if not run.progress() and run.processed() == 0:
                bench.failed_starts += 1  # no connection yet (the address moving): again shortly
                time.sleep(0.2)
                continue
            bench.runs.append(run)
        survivor = pg.active()
        assert survivor != victim, f"the database is still on {victim}"
    return bench, killed_at, survivor


def report(form: str, bench: Bench, killed_at: float, survivor: str, clients: int) -> None:
    points = [p for r in bench.runs for p in r.progress()]
    before = [tps for t, tps in points if t <= killed_at]
    after_runs = [r for r in bench.runs if r.began > killed_at]
    after_points = [(t, tps) for r in after_runs for t, tps in r.progress()]
    first_after = next((t - 1.0 for t, tps in after_points if tps > 0), None)  # progress covers the second before
    last_before = max((t for t, tps in points if t <= killed_at and tps > 0), default=killed_at)
    text = bench.text()
    aborted = len(ABORTED.findall(text))
    failed = sum(int(x) for x in FAILED.findall(text))
    print(f"\n{form}: pgbench -c {clients} -T 60 over {cfg.VIP}, power-off of the active node at "
          f"{killed_at - bench.runs[0].began:.1f} s, database back on {survivor}")
    print(f"  TPS before: mean {statistics.mean(before):.0f} over {len(before)} s (median "
          f"{statistics.median(before):.0f})" if before else "  TPS before: no progress line")
    tps_after = [r.tps() for r in after_runs if r.tps() is not None]
    steady = [tps for _, tps in after_points[1:]]
    print(f"  TPS after: {', '.join(f'{x:.0f}' for x in tps_after) or 'none'} (pgbench's figure); per-second "
          f"mean {statistics.mean(steady):.0f} over {len(steady)} s" if steady else "  TPS after: no progress line")
    if first_after is not None:
        print(f"  no transaction for {first_after - last_before:.1f} s (from the last second with one before "
              f"the power-off to the first after)")
    print(f"  errors: {aborted} clients aborted, {failed} failed transactions, {bench.failed_starts} pgbench starts "
          "that could not connect; exit codes " + ", ".join(str(r.returncode) for r in bench.runs))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--form", choices=(*FORMS, "both"), default="haresources")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--duration", type=int, default=60)
    ap.add_argument("--scale", type=int, default=4, help="pgbench -i -s (default 4: one branch per client; the lab disk is 256 MB)")
    ap.add_argument("--manager", choices=("hbd", "heartbeat"), default="hbd",
                    help="heartbeat: Debian's Heartbeat 3.0.6 runs the haresources form (bench/postgresql_heartbeat.py)")
    args = ap.parse_args()
    kind: type = PgCluster
    if args.manager == "heartbeat":
        if args.form != "haresources":
            ap.error("--manager heartbeat runs the haresources form only")
        from postgresql_heartbeat import HeartbeatPg
        kind = HeartbeatPg
    for form in FORMS if args.form == "both" else (args.form,):
        bench, killed_at, survivor = run_bench(form, args.duration, args.clients, args.scale, args.duration / 2, kind)
        report(f"{form} ({args.manager})", bench, killed_at, survivor, args.clients)
        for r in bench.runs:
            tail = "\n    ".join(ln for ln in r.output.splitlines() if not ln.startswith("progress:"))
            print(f"  run at +{r.began - bench.runs[0].began:.1f} s (exit {r.returncode}):\n    {tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
