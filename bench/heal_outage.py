"""Figures: the client-visible outage after a split brain heals, hbd vs Heartbeat 3.0.6, in the same lab.

Per run, on a fresh lab (two nodes, two media, the VIP group IPaddr2 + a small service, no fencing and no ping
nodes, bench/pairs.py): n1 holds the VIP; every frame of n1 is dropped by the switch's filter (links up) for
2 x deadtime, so both nodes take the group (the client reaches n2 only); then the filter goes and the run
watches the client's view of the VIP until it has answered from one node without a gap for STABLE_S
(bounded by WINDOW_S). The probe starts a TCP connection to the VIP every 2 ms (bench/failover_daemon.py's
FineProbe). Figures, from the heal on:
- outage: the sum of every stretch without an answered attempt (each from the last answered attempt before
  it to the first after it; stretches under 20 ms, the probe's own jitter, do not count);
- longest gap: the longest such stretch;
- settled: to the first answer of the steady stretch at the end (from the keeper, the only node holding the
  VIP by then), and who the keeper was.

    sudo .venv/bin/python bench/heal_outage.py --runs 5 --daemon hbd heartbeat
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "lab"))

from agent_helpers import has_address  # noqa: E402
from failover_daemon import FineProbe, wait  # noqa: E402
from pairs import PAIRS  # noqa: E402

from hbd.lab import Lab  # noqa: E402
from hbd.lab.hbd_cluster import ClusterSettings  # noqa: E402

KEEPALIVE_MS, DEADTIME_MS = 500, 2000
STABLE_S = 8.0  # one answerer, no gap, this long: the heal is over
WINDOW_S = 75.0  # the longest a run watches after the heal
MIN_GAP_S = 0.02


def gaps(samples: list[tuple[float, str | None]], after: float) -> list[tuple[float, float]]:
    """(start, length) of each stretch without an answer after `after`."""
    answered = [t for t, a in samples if a is not None and t >= after - 1.0]
    return [(a, b - a) for a, b in zip(answered, answered[1:]) if b - a >= MIN_GAP_S and b >= after]


def settled(samples: list[tuple[float, str | None]], after: float, now: float) -> tuple[float, str] | None:
    """(start, node) of the final stretch answered by one node without a gap, if it has lasted STABLE_S."""
    tail = [(t, a) for t, a in samples if t >= after and a is not None]
    if not tail:
        return None
    node = tail[-1][1]
    start = tail[-1][0]
    for (t_prev, a_prev), (t, _) in zip(reversed(tail[:-1]), reversed(tail)):
        if a_prev != node or t - t_prev >= MIN_GAP_S:
            break
        start = t_prev
    if now - start < STABLE_S:
        return None
    return start, node


def holders(lab: Lab, vip: str) -> list[str]:
    """The nodes that have the VIP on eth0 now."""
    return [n for n in lab.nodes if has_address(lab, n, vip)]


def one_run(daemon: str) -> dict[str, object]:
    lab = Lab.up(nodes=2, media=2)
    pair = PAIRS[daemon](lab, KEEPALIVE_MS, DEADTIME_MS)
    try:
        started = time.monotonic()
        pair.start()
        vip = ClusterSettings().vip
        with FineProbe(lab, vip) as probe:
            wait(lambda: probe.first_answer("n1", started) is not None, 20, "the VIP on n1")
            lab.cut("n1", how="filter")
            cut = time.monotonic()
            wait(lambda: probe.first_answer("n2", cut) is not None, 30, "the VIP on n2 (both took over)")
            time.sleep(max(0.0, cut + 2 * DEADTIME_MS / 1000 - time.monotonic()))
            lab.restore("n1")
            healed = time.monotonic()
            end = None
            while time.monotonic() - healed < WINDOW_S:
                time.sleep(0.2)
                end = settled(probe.samples, healed, time.monotonic())
                if end is not None and holders(lab, vip) == [end[1]]:
                    break
                end = None
            samples = probe.samples
        found = gaps(samples, healed)
        changes = [(round(t - healed, 3), a) for (t, a), (_, b) in zip(samples[1:], samples) if a != b]
        return {"changes": changes[:40],"outage": sum(g for _, g in found), "longest gap": max((g for _, g in found), default=0.0),
                "settled": (end[0] - healed) if end else None, "keeper": end[1] if end else None,
                "gaps": len(found)}
    finally:
        pair.close()
        lab.down()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--daemon", choices=["hbd", "heartbeat"], nargs="+", default=["hbd", "heartbeat"])
    parser.add_argument("--verbose", action="store_true", help="print who answered when, after the heal")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("heal_outage: needs root (network namespaces)", file=sys.stderr)
        return 2
    print(f"keepalive {KEEPALIVE_MS} ms, deadtime {DEADTIME_MS} ms, partition 2 x deadtime, {args.runs} runs")
    for daemon in args.daemon:
        runs = []
        for i in range(args.runs):
            run = one_run(daemon)
            runs.append(run)
            if args.verbose:
                print(f"  answerer changes after the heal (s, node): {run['changes']}")
            print(f"  {daemon} run {i + 1}: outage {float(run['outage']) * 1000:.0f} ms, longest gap "
                  f"{float(run['longest gap']) * 1000:.0f} ms ({run['gaps']} gaps), settled "
                  + (f"{run['settled']:.2f} s on {run['keeper']}" if run["settled"] is not None else "never")
                  , flush=True)
        for key in ("outage", "longest gap", "settled"):
            values = [float(r[key]) for r in runs if r[key] is not None]  # type: ignore[arg-type]
            if values:
                scale, unit = (1000, "ms") if key != "settled" else (1, "s")
                print(f"{daemon:9} {key:12} median {statistics.median(values) * scale:8.2f} {unit}  "
                      f"max {max(values) * scale:8.2f} {unit}  (n={len(values)})")
        keepers = sorted({str(r['keeper']) for r in runs})
        print(f"{daemon:9} keeper(s): {', '.join(keepers)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
