"""What the load benches share: stress-ng on both cores, bounded and announced, and the counting of a
daemon's false verdicts and heartbeat-path delays from its log and `hbd status`.

A stress-ng run slows every other process on the machine, so each one is announced in
/work/notes/STRESS-RUNNING when that directory exists (start, expected end), removed when it ends, and
always bounded by --timeout as well as killed on the way out.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NOTICE = Path("/work/notes/STRESS-RUNNING")
# CPU: one busy-looping worker per core; IO: one sync() loop per core (dirty pages flushed all the time,
# what a database's fsyncs do to the machine)
STRESSORS = ["--cpu", "2", "--io", "2"]


class Stress:
    """`with Stress(seconds, what):` stress-ng CPU + IO on both cores for at most `seconds`."""

    def __init__(self, seconds: float, what: str):
        self.seconds, self.what = seconds, what
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "Stress":
        if shutil.which("stress-ng") is None:
            raise SystemExit("stress-ng is not installed (apt-get install stress-ng)")
        begin = time.time()
        if NOTICE.parent.is_dir():
            NOTICE.write_text(f"{time.strftime('%H:%M:%S', time.gmtime(begin))} UTC to at most "
                              f"{time.strftime('%H:%M:%S', time.gmtime(begin + self.seconds))} UTC: "
                              f"stress-ng {' '.join(STRESSORS)} ({self.what})\n")
        try:
            self.proc = subprocess.Popen(["stress-ng", *STRESSORS, "--timeout", f"{int(self.seconds) + 1}s",
                                          "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True)
        except BaseException:
            NOTICE.unlink(missing_ok=True)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.proc is not None and self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGTERM)  # stress-ng's workers are in its process group
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(timeout=5)
        finally:
            NOTICE.unlink(missing_ok=True)


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


@dataclass
class Verdicts:
    """A node's false verdicts and late heartbeats, read from its log (lines after `since` chars)."""
    self_dead: int = 0  # "node <itself>: is dead"
    no_local: int = 0  # "No local heartbeat. Forcing restart."
    peer_dead: int = 0  # "node <peer>: is dead" while the peer was alive
    restarts: int = 0  # the daemon started again ("Starting hbd" beyond the first)
    late: int = 0  # "Late heartbeat" lines (warntime exceeded)
    late_max_ms: int = 0
    lines: list[str] = field(default_factory=list)  # the offending lines, for the report

    @property
    def false_self(self) -> int:
        return self.self_dead + self.no_local + self.restarts


LATE = re.compile(r"Late heartbeat: Node \S+: interval (\d+) ms")


def verdicts(log: str, node: str, peer: str, peer_alive_until: int | None = None) -> Verdicts:
    """Count in `log` (a node's hbd.log). `peer_alive_until`: chars of the log written while the peer was
    alive (its "is dead" lines after that are true); None: alive all along."""
    v = Verdicts()
    starts = 0
    offset = 0
    for line in log.splitlines(keepends=True):
        at = offset
        offset += len(line)
        if f"node {node}: is dead" in line:
            v.self_dead += 1
            v.lines.append(line.strip())
        elif f"node {peer}: is dead" in line and (peer_alive_until is None or at < peer_alive_until):
            v.peer_dead += 1
            v.lines.append(line.strip())
        if "No local heartbeat" in line:
            v.no_local += 1
            v.lines.append(line.strip())
        if "Starting hbd" in line:
            starts += 1
        late = LATE.search(line)
        if late:
            v.late += 1
            v.late_max_ms = max(v.late_max_ms, int(late.group(1)))
    v.restarts = max(0, starts - 1)
    return v


def heartbeat_path(status: dict[str, Any] | None) -> dict[str, Any]:
    """The LoopWatch counters of `hbd status --json` (timer lag, GC pauses, read_late)."""
    hb = (status or {}).get("heartbeat") or {}
    return {k: hb.get(k) for k in ("timer_lag_max_ms", "timer_lag_ms", "gc_pause_max_ms", "read_late")}


def scheduling(pid: int) -> str:
    """The scheduling policy and priority of every thread of `pid`, as chrt -p prints them, condensed:
    e.g. "SCHED_RR/1 x4" (four threads at SCHED_RR priority 1)."""
    names = {os.SCHED_OTHER: "SCHED_OTHER", os.SCHED_RR: "SCHED_RR", os.SCHED_FIFO: "SCHED_FIFO",
             getattr(os, "SCHED_BATCH", 3): "SCHED_BATCH", getattr(os, "SCHED_IDLE", 5): "SCHED_IDLE"}
    seen: dict[str, int] = {}
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return "gone"
    for tid in tids:
        try:
            policy = os.sched_getscheduler(tid) & ~getattr(os, "SCHED_RESET_ON_FORK", 0x40000000)
            prio = os.sched_getparam(tid).sched_priority
        except OSError:
            continue
        key = f"{names.get(policy, policy)}/{prio}"
        seen[key] = seen.get(key, 0) + 1
    return ", ".join(f"{k} x{n}" for k, n in sorted(seen.items()))


def daemon_pid(lab: Any, node: str) -> int | None:
    for pid in lab.processes(node):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "hbd":
                return int(pid)
        except OSError:
            continue
    return None
