"""`hbd svc enable|disable|relocate|restart|freeze|unfreeze NAME [-m NODE]`: change a cluster.conf service, like
rgmanager's clusvcadm, and wait until it is done.

The daemon hands the request to the cluster's coordinator, which refuses it (nothing changes: no such service,
a node outside a restricted failover domain, a node that is down, no quorum, the service frozen, ...) or
accepts it; the command then waits until the service got where the request sends it, and says so.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hbd.cli.argtypes import seconds, socket_path
from hbd.cli.client import ask
from hbd.core.service_outcome import AdminResult
from hbd.runtime import control_messages as cm
from hbd.runtime.control import DEFAULT_SOCKET

PROG = "hbd svc"
SERVICE_PREFIX = "service:"
# 0 done; 1 refused (nothing changed); 2 usage; 3 no daemon; 4 accepted but not done (failed, or not in time)
EXIT = {AdminResult.DONE: 0, AdminResult.REFUSED: 1, AdminResult.UNAVAILABLE: 1, AdminResult.FAILED: 4,
        AdminResult.TIMED_OUT: 4}
EPILOG = """exit codes: 0 done; 1 refused, nothing changed (the reason is printed: no such service, node not a
member or down, outside the service's restricted failover domain, no quorum, frozen, ...); 2 usage;
3 the daemon is not running; 4 accepted but not done: the service failed on the way, or the wait ended
first (it may still complete: see `hbd status`)."""
OPS = {
    "enable": "start a disabled (or stopped) service: on NODE with -m, else where its failover domain says",
    "disable": "stop the service and keep it stopped everywhere (also clears a failed stop, by stopping again)",
    "relocate": "move the running service to NODE (-m), or to the best other node of its failover domain",
    "restart": "stop and start the service again where it runs",
    "freeze": "leave the service as it is: no status checks, no recovery, no moves until unfrozen",
    "unfreeze": "resume status checks and recovery of a frozen service",
}
TARGETED = ("enable", "relocate")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0].split(": ", 1)[1].replace("\n", " "),
                                epilog=EPILOG)
    sub = p.add_subparsers(dest="op", metavar="OPERATION", required=True)
    for op, text in OPS.items():
        q = sub.add_parser(op, help=text, description=f"{op}: {text}.", epilog=EPILOG)
        q.add_argument("service", metavar="NAME", help="the service's name in cluster.conf (`service:NAME` too)")
        if op in TARGETED:
            q.add_argument("-m", "--member", metavar="NODE", help="the node to run it on (a cluster member)")
        q.add_argument("--timeout", type=seconds, default=cm.SERVICE_TIMEOUT_S, metavar="S",
                       help=f"seconds to wait for the outcome (default {cm.SERVICE_TIMEOUT_S:g})")
        q.add_argument("--socket", type=socket_path, default=str(DEFAULT_SOCKET), metavar="PATH",
                       help="control socket path")
    return p


def request_of(args: argparse.Namespace) -> cm.ServiceAdminRequest | str:
    """The typed request, checked as the daemon checks it, or what is wrong with the arguments."""
    name = args.service.removeprefix(SERVICE_PREFIX)
    obj = {"cmd": "svc", "op": args.op, "service": name, "timeout": args.timeout}
    if getattr(args, "member", None) is not None:
        obj["node"] = args.member
    try:
        request = cm.decode(obj)
    except cm.BadRequest as exc:
        return str(exc)
    assert isinstance(request, cm.ServiceAdminRequest)
    return request


def run(request: cm.ServiceAdminRequest, socket: Path, prog: str = PROG) -> tuple[cm.ServiceAdminReply | None, int]:
    """Send it and wait; the reply, or None and the exit code when no daemon answered (after saying why)."""
    answer = ask(prog, socket, request, request.timeout_s + 5)
    if isinstance(answer, int):
        return None, answer
    reply = cm.ServiceAdminReply.from_wire(answer)
    return reply, EXIT[reply.result]


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    request = request_of(args)
    if isinstance(request, str):
        parser.error(request)
    reply, code = run(request, Path(args.socket))
    if reply is not None:
        print(reply.text, file=sys.stdout if reply.ok else sys.stderr)
    return code
