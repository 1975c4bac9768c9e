"""Realtime priority (ha.cf `realtime on`) reaches every thread of the daemon, those started before and
after go_realtime(), while the programs it runs (agents) start at normal priority.

Only the loop's thread had it before: SCHED_RESET_ON_FORK resets every new task, threads included, and
a normal thread holding the GIL while a CPU hog keeps it off the CPU kept the realtime loop waiting."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CHILD = r"""
import json, os, subprocess, sys, threading
from hbd.runtime.process import go_realtime

def policy():
    return os.sched_getscheduler(0) & ~getattr(os, "SCHED_RESET_ON_FORK", 0x40000000)

seen = {}
early_go = threading.Event(); early_done = threading.Event()
def early():
    early_go.wait(10); seen["thread started before"] = policy(); early_done.set()
t0 = threading.Thread(target=early); t0.start()
notes = go_realtime()
if any(level == "WARN" and "scheduling" in text for level, text in notes):
    print(json.dumps({"skip": notes})); sys.exit(0)
seen["main"] = policy()
early_go.set(); early_done.wait(10)
t1 = threading.Thread(target=lambda: seen.__setitem__("thread started after", policy())); t1.start(); t1.join(10)
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(1) as ex:
    seen["executor thread"] = ex.submit(policy).result(10)
out = subprocess.run([sys.executable, "-c", "import os; print(os.sched_getscheduler(0))"],
                     capture_output=True, text=True, timeout=30)
seen["child process"] = int(out.stdout)
print(json.dumps({"seen": seen, "rr": os.SCHED_RR, "other": os.SCHED_OTHER}))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="realtime scheduling needs root")
def test_every_thread_is_realtime_and_children_are_not() -> None:
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if "skip" in result:
        pytest.skip(f"realtime scheduling refused here: {result['skip']}")
    rr, other = result["rr"], result["other"]
    assert result["seen"] == {"main": rr, "thread started before": rr, "thread started after": rr,
                              "executor thread": rr, "child process": other}
