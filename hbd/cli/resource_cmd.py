"""`hbd resource cleanup [GROUP]`: clear the monitor's fail counts and last failure of a group (or all).

A failed status check counts against its group (doc/monitoring.md): restarts in place within the window,
then the group is handed to the peer. Once the cause is fixed, clear the counts so that the next failure
starts from a clean slate. `hbd status` shows them.
Exit codes: 0 cleared, 1 refused (no such group: nothing is changed), 2 usage, 3 not running.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from hbd.cli.client import ask_and_report
from hbd.runtime import control_messages as cm
from hbd.runtime.control import DEFAULT_SOCKET


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hbd resource", description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                                epilog="Exit codes: 0 cleared, 1 refused (nothing changed), 2 usage, 3 not running.")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    cleanup = sub.add_parser("cleanup", help="clear fail counts and the last failure",
                             description="Clear the fail counts and the last failure of GROUP (default: every "
                                         "group) in the running daemon.")
    cleanup.add_argument("group", nargs="?", help="a resource group key as `hbd status` shows it")
    for parser in (p, cleanup):
        parser.add_argument("--socket", default=str(DEFAULT_SOCKET), help="control socket path")
        parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the daemon")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return ask_and_report("hbd resource cleanup", Path(args.socket), cm.CleanupRequest(args.group), args.timeout)
