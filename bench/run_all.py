"""The benchmarks of bench/README.md side by side: hbd, Heartbeat 3.0.6 and keepalived in the same run (as root).

`make bench-quick` (a few runs per cell, under 5 minutes) and `make bench` (`--full`: 10 runs per cell,
bounded under 45 minutes) run, in the namespace lab, with equivalent timing for each daemon:
- failover (bench/failover_daemon.py): power-loss outage, graceful handover outage, detection time and
  reaction beyond detection, at 1 s / 3 s, 100 ms / 500 ms and 10 ms / 50 ms where the daemon supports it;
- idle cost (bench/idle_daemons.py): CPU % and memory per node at keepalive 1 s, 100 ms, 10 ms;
- `hbd test noop` on large trees (bench/plan_10k.py);
then print the tables and, with --readme, write them into bench/README.md between the markers
<!-- bench:begin --> and <!-- bench:end --> (the rest of the file is kept).

Timing benchmarks wait while /work/notes/STRESS-RUNNING exists (another load on the machine; bounded) and
the run is marked void if it appears while they run. Other benchmarks: `--others` also runs the older
scripts (lab_updown, agents_*, membership_*, fuzz_messages, failover_scenarios) with their quick settings.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STRESS_FLAG = Path(os.environ.get("HBD_BENCH_STRESS_FLAG", "/work/notes/STRESS-RUNNING"))
STRESS_WAIT_S = 20 * 60

# Which timings each daemon is measured at: keepalived's advert_int is in centiseconds (VRRPv3), so 10 ms
# is its floor; it is measured there too when it accepts it (see KeepalivedPair).
FAILOVER_TIMINGS = {"hbd": ["1s/3s", "100ms/500ms", "10ms/50ms"],
                    "heartbeat": ["1s/3s", "100ms/500ms", "10ms/50ms"],
                    "keepalived": ["1s/3s", "100ms/500ms", "10ms/50ms"]}
IDLE_KEEPALIVES = ["1000", "100", "10"]
# Beside them, hbd before the idle-cost work (the last commit with the 20 ms pre-probe poll and scapy and
# pyroute2 in the daemon) and hbd with mlockall(MCL_ONFAULT) (bench/hbd_variant.py).
BEFORE_COMMIT = "e96e381"

# (mode) -> failover runs per cell, idle window s, idle settle s, idle keepalives
MODES = {"quick": (1, 5, 1, ["1000", "100"]), "full": (10, 20, 5, IDLE_KEEPALIVES)}

OTHERS: list[tuple[str, list[str]]] = [
    ("lab_updown.py", ["--rounds", "3"]),
    ("agents_garp.py", ["--rounds", "5"]),
    ("agents_group.py", ["--rounds", "3"]),
    ("membership_idle.py", ["--keepalive-ms", "200", "1000", "--seconds", "10"]),
    ("membership_detection.py", ["--rounds", "5", "--keepalive-ms", "200", "--deadtime-ms", "2000"]),
    ("fuzz_messages.py", ["--inputs", "100000", "--seed", "1"]),
    ("failover_scenarios.py", ["--runs", "1"]),
]


class StressWatch:
    """Notes whether the stress flag file existed at any moment while timing benchmarks ran."""

    def __init__(self) -> None:
        self.seen = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def wait_clear(self) -> bool:
        deadline = time.monotonic() + STRESS_WAIT_S
        announced = False
        while STRESS_FLAG.exists() and time.monotonic() < deadline:
            if not announced:
                print(f"waiting (at most {STRESS_WAIT_S // 60} min) while {STRESS_FLAG} exists", flush=True)
                announced = True
            time.sleep(5)
        return not STRESS_FLAG.exists()

    def __enter__(self) -> "StressWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            if STRESS_FLAG.exists():
                self.seen = True


def run(script: str, args: list[str], timeout_s: float) -> int:
    argv = [sys.executable, str(HERE / script), *args]
    print(f"\n==> {' '.join(argv[1:])}", flush=True)
    started = time.monotonic()
    try:
        rc = subprocess.call(argv, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        rc = 124
    print(f"<== {script}: exit {rc} after {time.monotonic() - started:.0f} s", flush=True)
    return rc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="10 runs per cell (make bench)")
    parser.add_argument("--readme", action="store_true", help="write the tables into bench/README.md")
    parser.add_argument("--json", type=Path, help="keep the raw figures here (default: a temporary file)")
    parser.add_argument("--from-json", type=Path, help="only render the tables of an earlier run's figures")
    parser.add_argument("--daemon", nargs="+", default=list(FAILOVER_TIMINGS), choices=list(FAILOVER_TIMINGS))
    parser.add_argument("--others", action="store_true", help="also run the older benchmark scripts")
    args = parser.parse_args()
    import report  # bench/report.py: tables and README section

    if args.from_json:
        cells = [json.loads(line) for line in args.from_json.read_text().splitlines() if line.strip()]
        meta = next((c for c in cells if c.get("kind") == "meta"), {})
        text = report.render(cells, meta)
        print(text)
        if args.readme:
            report.write_readme(HERE / "README.md", text)
        return 0
    if os.geteuid() != 0:
        print("run_all: needs root (network namespaces)", file=sys.stderr)
        return 2
    mode = "full" if args.full else "quick"
    runs, window, settle, keepalives = MODES[mode]
    json_path = args.json or Path(tempfile.mkstemp(prefix="hbd-bench-", suffix=".jsonl")[1])
    json_path.write_text("")
    failed: list[str] = []
    started = time.time()
    watch = StressWatch()
    if not watch.wait_clear():
        print(f"{STRESS_FLAG} still exists after {STRESS_WAIT_S // 60} min: timing figures will be void", flush=True)
    meta = report.machine(mode, runs, window)
    with watch:
        rc = run("plan_10k.py", ["10000", "--json", str(json_path)], 300)
        if rc:
            failed.append("plan_10k.py")
        for daemon in args.daemon:
            rc = run("failover_daemon.py", ["--runs", str(runs), "--daemon", daemon,
                                            "--timing", *FAILOVER_TIMINGS[daemon], "--json", str(json_path)],
                     40 * 60)
            if rc:
                failed.append(f"failover_daemon.py --daemon {daemon}")
        variants = ["hbd-onfault"] if args.full else []  # quick: the daemons only (under 5 minutes)
        before = Path(tempfile.mkdtemp(prefix="hbd-before-"))
        archived = subprocess.run(f"git -C {HERE.parent} archive {BEFORE_COMMIT} hbd | tar -x -C {before}",
                                  shell=True, check=False)
        if archived.returncode == 0 and args.full:
            variants.insert(0, "hbd-before")
        for daemons, kas in ((args.daemon, keepalives), (variants, ["1000", "100"])):
            if not daemons:
                continue
            rc = run("idle_daemons.py", ["--daemon", *daemons, "--keepalive-ms", *kas,
                                         "--before", str(before), "--before-label", BEFORE_COMMIT,
                                         "--seconds", str(window), "--settle", str(settle),
                                         "--json", str(json_path)], 30 * 60)
            if rc:
                failed.append(f"idle_daemons.py --daemon {' '.join(daemons)}")
        shutil.rmtree(before, ignore_errors=True)
    meta.update({"elapsed_s": round(time.time() - started), "stress_seen": watch.seen, "failed": failed})
    with json_path.open("a") as out:
        out.write(json.dumps({"kind": "meta", **meta}) + "\n")
    cells = [json.loads(line) for line in json_path.read_text().splitlines() if line.strip()]
    text = report.render(cells, meta)
    print("\n" + text)
    print(f"raw figures: {json_path}")
    if args.readme:
        if watch.seen:
            print(f"not writing bench/README.md: {STRESS_FLAG} existed during the run (figures void)")
        else:
            report.write_readme(HERE / "README.md", text)
            print("bench/README.md updated")
    if args.others:
        for script, extra in OTHERS:
            if run(script, extra, 30 * 60):
                failed.append(script)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
