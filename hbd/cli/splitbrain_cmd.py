"""`hbd splitbrain status|plan|resolve [RESOURCE|all]`: DRBD split brain, seen from both nodes, and resolved.

status            each drbddisk resource's role, disk and connection on both nodes (StandAlone: split brain)
plan --keep NODE  the checks that must hold and, per node, the exact drbdadm commands that keep NODE's data
                  and discard the other node's changes since the split (changes nothing)
resolve --keep NODE --yes
                  runs that plan through both daemons: refused, changing nothing, when a check fails (a group
                  using the resource still runs on the other node, or its filesystem is mounted there; the
                  kept node is neither Primary nor UpToDate; a daemon does not answer); then waits for DRBD to
                  be Connected and UpToDate again and shows the states before and after

Exit codes: 0 done (status shown; plan whose checks hold; resolved, or nothing to resolve), 1 refused and
nothing changed (plan: a check fails), 2 usage, 3 not running, 4 a step failed or DRBD did not connect in time.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Literal

from hbd.cli.client import ask
from hbd.runtime import control_messages as cm
from hbd.runtime.control import DEFAULT_SOCKET

FAILED = 4
# The daemons wait up to 30 s for DRBD to connect after the last step; each step may take 20 s.
TIMEOUT_S = 180.0


def build_parser() -> argparse.ArgumentParser:
    head, _, rest = __doc__.partition("\n\n")
    p = argparse.ArgumentParser(prog="hbd splitbrain", description=head.split(": ", 1)[1],
                                epilog=rest, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("op", choices=("status", "plan", "resolve"), help="what to do")
    p.add_argument("resource", nargs="?", default="all", metavar="RESOURCE",
                   help="a DRBD resource of the groups (drbddisk::RESOURCE), or all (the default)")
    p.add_argument("--keep", metavar="NODE", help="the node whose data survives (plan, resolve)")
    p.add_argument("--yes", action="store_true", help="resolve: really run the plan (the other node's "
                                                       "changes since the split are lost)")
    p.add_argument("--json", action="store_true", help="print the daemon's reply as JSON")
    p.add_argument("--socket", default=str(DEFAULT_SOCKET), help="control socket path")
    p.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds to wait for the daemon")
    return p


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)  # `plan --keep n1 r0` as well as `plan r0 --keep n1`
    if args.op != "status" and not args.keep:
        parser.error(f"{args.op} needs --keep NODE: the node whose data survives")
    if args.op == "status" and args.keep:
        parser.error("status takes no --keep")
    prog = f"hbd splitbrain {args.op}"
    op: Literal["status", "plan", "resolve"] = "status" if args.op == "status" else \
        "resolve" if args.op == "resolve" and args.yes else "plan"  # resolve without --yes: only the plan
    answer = ask(prog, Path(args.socket), cm.SplitBrainRequest(op, args.resource, args.keep), args.timeout)
    if isinstance(answer, int):
        return answer
    if args.json:
        print(json.dumps(answer, indent=2, sort_keys=True))
    elif answer.get("text"):
        print(answer["text"], file=sys.stdout if answer.get("ok") else sys.stderr)
    if args.op == "resolve" and not args.yes:
        print(f"{prog}: not run: add --yes to run this plan (the changes of the node not kept are lost)",
              file=sys.stderr)
        return 1
    if answer.get("ok"):
        return 0
    return FAILED if answer.get("outcome") == "failed" else 1
