"""`hbd fence-peer [-t SECONDS] [RESOURCE]`: DRBD's fence-peer handler, as Heartbeat's drbd-peer-outdater.

Name it in drbd.conf:  `disk { fencing resource-only; }  handlers { fence-peer "/usr/bin/hbd fence-peer -t 5"; }`
It asks the running hbd to have the peer outdate its disk over the heartbeat media, and exits with
DRBD's codes: 4 peer outdated, 3 peer inconsistent, 5 peer dead (unreachable), 6 peer is Primary,
1 nothing is known (no answer, or no daemon: DRBD then refuses to promote a disconnected node).
RESOURCE defaults to $DRBD_RESOURCE, which DRBD sets.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from hbd.cli.client import ask
from hbd.runtime import control_messages as cm
from hbd.runtime.control import DEFAULT_SOCKET

UNKNOWN = 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hbd fence-peer", description="DRBD fence-peer handler: have the peer "
                                "outdate its disk over the heartbeat media (exit 4 outdated, 3 inconsistent, "
                                "5 peer dead, 6 peer Primary, 1 unknown)")
    p.add_argument("resource", nargs="?", default=os.environ.get("DRBD_RESOURCE"),
                   help="the DRBD resource (default: $DRBD_RESOURCE)")
    p.add_argument("-t", "--timeout", type=float, default=5.0, help="seconds to wait for the peer's answer")
    p.add_argument("--socket", default=str(DEFAULT_SOCKET), help="control socket path")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if not args.resource:
        print("hbd fence-peer: no resource (give one, or run it as DRBD's handler, which sets DRBD_RESOURCE)",
              file=sys.stderr)
        return 2
    if args.timeout <= 0:
        print("hbd fence-peer: --timeout must be positive", file=sys.stderr)
        return 2
    answer = ask("hbd fence-peer", Path(args.socket),
                 cm.OutdatePeerRequest(args.resource, args.timeout), args.timeout + 5)
    if isinstance(answer, int):
        return UNKNOWN  # no daemon: the peer cannot be reached, nothing is known
    code = answer.get("code")
    print(f"hbd fence-peer {args.resource}: {answer.get('text', '')}")
    return code if isinstance(code, int) and code in (1, 3, 4, 5, 6) else UNKNOWN
