"""`hbd fence-ack NODE`: tell the running daemon that NODE is down, as fence_ack_manual does.

Use it only after making sure NODE is powered off (or its disks cut off): the daemon then takes over
NODE's groups as if fencing had succeeded. Accepted only while the daemon is waiting to fence NODE.
Exit codes: 0 acknowledged, 1 refused (nothing is waiting, wrong node, no fencing configured), 3 not running.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from hbd.cli.client import ask_and_report
from hbd.runtime import control_messages as cm
from hbd.runtime.control import DEFAULT_SOCKET


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hbd fence-ack", description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                                epilog="Only after making sure NODE is really down: two nodes writing one "
                                       "disk destroy it.")
    p.add_argument("node", help="the peer that must be fenced")
    p.add_argument("--socket", default=str(DEFAULT_SOCKET), help="control socket path")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the daemon")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return ask_and_report("hbd fence-ack", Path(args.socket), cm.FenceAckRequest(args.node), args.timeout)
