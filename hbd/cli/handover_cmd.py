"""`hbd-standby [all|local|foreign|failback]` and `hbd-takeover [...]`: move groups, wait, report.

Unlike Heartbeat's hb_standby / hb_takeover (which always exit 0 and say nothing), these wait until the
handover has finished and report the outcome: exit 0 and a line saying what moved, 1 and the reason when
it was refused or failed, 3 when no daemon runs, 2 for a bad argument.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from hbd.core.holdings import REQUEST_WORDS
from hbd.cli.argtypes import seconds, socket_path
from hbd.cli.client import ask_and_report
from hbd.runtime import control_messages as cm
from hbd.runtime.control import DEFAULT_SOCKET
HELP = {
    "standby": "give groups to the peer: all (default), local (the groups this node prefers), "
               "foreign (the peer's groups held here; failback is the same)",
    "takeover": "take groups from the peer: all (default), local (this node's own groups), foreign (the "
                "peer's own groups); failback takes this node's own groups back",
}


def build_parser(kind: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"hbd-{kind}", description=HELP[kind])
    p.add_argument("which", nargs="?", default="all", choices=REQUEST_WORDS)
    p.add_argument("--socket", type=socket_path, default=str(DEFAULT_SOCKET), help="control socket path")
    p.add_argument("--timeout", type=seconds, default=300.0, help="seconds to wait for the handover to finish")
    return p


def main(kind: str, argv: list[str]) -> int:
    args = build_parser(kind).parse_args(argv)
    request = cm.decode({"cmd": kind, "which": args.which, "timeout": args.timeout})  # checked like the daemon does
    return ask_and_report(f"hbd-{kind}", Path(args.socket), request, args.timeout + 5)
