"""Figure: time to bring a 2-node + client lab up and tear it down again (target < 2 s)."""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from hbd.lab import Lab
from hbd.lab.cleanup import traces

TARGET_S = 2.0


def one_round(nodes: int, media: int) -> tuple[float, float]:
    t0 = time.monotonic()
    lab = Lab.up(nodes=nodes, media=media)
    t1 = time.monotonic()
    lab.down()
    t2 = time.monotonic()
    left = traces(lab.name)
    if left:
        raise SystemExit(f"lab {lab.name} left traces: {left}")
    return t1 - t0, t2 - t1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--media", type=int, default=2)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("lab_updown: needs root (network namespaces, loop devices)", file=sys.stderr)
        return 2
    ups, downs, totals = [], [], []
    for _ in range(args.rounds):
        up, down = one_round(args.nodes, args.media)
        ups.append(up)
        downs.append(down)
        totals.append(up + down)
    print(f"lab up + down, {args.nodes} nodes + client, {args.media} media, {args.rounds} rounds "
          f"(responders, drbd disk and emulator included)")
    for label, values in (("up", ups), ("down", downs), ("up+down", totals)):
        print(f"  {label:<8} median {statistics.median(values):.3f} s   max {max(values):.3f} s")
    verdict = "meets" if statistics.median(totals) < TARGET_S else "MISSES"
    print(f"  target < {TARGET_S:g} s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
