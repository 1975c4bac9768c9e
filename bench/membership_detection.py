"""Detection time over repeated power-offs: how long after a node is powered off its peer declares it dead.

Two lab nodes run `hbd membership` on two bcast media. Each round waits until n1 sees n2 active and n2's
startup dt (deadtime + 2 s for 5 s) is over, powers n2 off, and takes the time from the power-off to n1's
`node n2: is dead` (the event's monotonic stamp). Ideal: deadtime minus the time since n2's last heartbeat,
so between deadtime - keepalive and deadtime.

    sudo .venv/bin/python bench/membership_detection.py --rounds 50 --keepalive-ms 200 --deadtime-ms 2000
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "lab"))

from hbd.lab import Lab  # noqa: E402
from hbd_member import hacf_text, is_node, start_member, write_config  # noqa: E402

STARTUP_DT_S = 5.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--keepalive-ms", type=int, default=200)
    parser.add_argument("--deadtime-ms", type=int, default=2000)
    args = parser.parse_args()
    deadtime = args.deadtime_ms / 1000
    times: list[float] = []
    with Lab.up(nodes=2, media=2) as lab:
        for node in lab.nodes:
            write_config(lab, node, hacf_text(lab, "bcast", keepalive_ms=args.keepalive_ms,
                                              deadtime_ms=args.deadtime_ms, initdead_ms=4 * args.deadtime_ms))
        watcher = start_member(lab, "n1")
        try:
            for round_ in range(args.rounds):
                mark = len(watcher.drain())
                peer = start_member(lab, "n2")
                started = time.monotonic()
                active = lambda r, m=mark: is_node("n2", "active")(r) and watcher.seen.index(r) >= m  # noqa: E731
                watcher.wait_for(active, timeout=15)
                # the startup dt runs from the core's start, a moment after the process was spawned
                time.sleep(max(0.0, started + STARTUP_DT_S + 2.0 - time.monotonic()))
                lab.power_off("n2")
                off = time.monotonic()
                mark = len(watcher.drain())
                dead = watcher.wait_for(lambda r, m=mark: is_node("n2", "dead")(r) and watcher.seen.index(r) >= m,
                                        timeout=deadtime + 5)
                times.append(dead["t"] - off)
                peer.stop()
                lab.boot("n2")
                print(f"round {round_ + 1}: {times[-1]:.3f} s", flush=True)
        finally:
            watcher.stop()
    errors = [t - deadtime for t in times]
    print(f"\nkeepalive {args.keepalive_ms} ms, deadtime {args.deadtime_ms} ms, {len(times)} power-offs")
    print(f"detection: min {min(times):.3f} s  median {statistics.median(times):.3f} s  "
          f"mean {statistics.mean(times):.3f} s  max {max(times):.3f} s")
    print(f"minus deadtime: min {min(errors):+.3f} s  max {max(errors):+.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
