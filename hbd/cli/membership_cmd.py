"""`hbd membership`: run the heartbeat layer alone in the foreground and print who is alive on which link.

A debug command until `hbd status` asks the daemon: it reads ha.cf and authkeys (haresources is not
needed), logs node and link events with Heartbeat's texts on stderr (or --logfile), and prints a status
table on SIGUSR1, every --interval seconds, and once more at exit (--once-after SECONDS ends the run).
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import signal
import sys
from pathlib import Path

from hbd.cli.argtypes import MAX_SECONDS, finite, seconds
from hbd.config.authkeys import parse_authkeys
from hbd.config.hacf import local_node_name, read_hacf
from hbd.core.membership_events import (
    Action, CommUp, LinkChanged, LocalHeartbeatLost, MembershipView, NodeChanged, PeerRestarted, PeerReturned,
)
from hbd.errors import Problems
from hbd.runtime.membership_service import HeartbeatFormatter, MembershipService
from hbd.runtime.state import DEFAULT_STATE_DIR, load_identity


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hbd membership", description=__doc__.split("\n")[0])
    p.add_argument("-c", "--config", default="/etc/ha.d", help="directory with ha.cf and authkeys")
    p.add_argument("--node", help="local node name (default: nodeinfo, then uname -n)")
    p.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR), help="hb_generation and hb_uuid live here")
    p.add_argument("--interval", type=finite(0, MAX_SECONDS), default=0.0,
                   help="print the table every SECONDS (0: only on SIGUSR1)")
    p.add_argument("--once-after", type=seconds, metavar="SECONDS", help="run this long, print the table, exit")
    p.add_argument("--json", action="store_true", help="print the table as one JSON object per line")
    p.add_argument("--events", action="store_true",
                   help="print node and link changes as JSON lines with the monotonic time (for tests and benches)")
    p.add_argument("--logfile", help="append log lines here instead of stderr")
    return p


def format_view(view: MembershipView, as_json: bool = False) -> str:
    if as_json:
        return json.dumps({
            "local": view.local, "local_status": view.local_status, "comm_up": view.comm_up,
            "nodes": [{"name": n.name, "status": n.status, "deadtime_ms": n.deadtime_ms, "age_s": n.age_s,
                       "generation": n.generation,
                       "links": [{"name": k.name, "up": k.up, "age_s": k.age_s} for k in n.links],
                       "intervals": [[b, c] for b, c in n.intervals if c]} for n in view.nodes]})
    lines = [f"local node {view.local}: {view.local_status}" + ("" if view.comm_up else " (waiting for peers)")]
    for node in view.nodes:
        age = "never heard" if node.age_s is None else f"last packet {node.age_s:.1f} s ago"
        lines.append(f"node {node.name}: {node.status}, {age}, deadtime {node.deadtime_ms} ms")
        for link in node.links:
            link_age = "-" if link.age_s is None else f"{link.age_s:.1f} s ago"
            lines.append(f"  link {link.name}: {'up' if link.up else 'dead'}, last packet {link_age}")
    return "\n".join(lines)


def _print_event(action: Action, now: float) -> None:
    if isinstance(action, (NodeChanged, LinkChanged, PeerRestarted, PeerReturned, CommUp, LocalHeartbeatLost)):
        record = {"t": now, "event": type(action).__name__, **dataclasses.asdict(action)}
        print(json.dumps(record), flush=True)


def _setup_logging(node: str, logfile: str | None) -> None:
    handler: logging.Handler = logging.FileHandler(logfile) if logfile else logging.StreamHandler(sys.stderr)
    handler.setFormatter(HeartbeatFormatter(node))
    root = logging.getLogger("hbd")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    config_dir = Path(args.config)
    problems = Problems()
    node = local_node_name(config_dir, args.node)
    hacf, _ = read_hacf(config_dir / "ha.cf", problems, node)
    keys = parse_authkeys(config_dir / "authkeys", problems)
    for problem in problems.items:
        print(problem, file=sys.stderr)
    if hacf is None or keys is None or problems.has_errors:
        return 1
    _setup_logging(hacf.local_node, args.logfile)
    identity = load_identity(Path(args.state_dir))
    return asyncio.run(_run(MembershipService(hacf, keys, identity), args))


async def _run(service: MembershipService, args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def show() -> None:
        print(format_view(service.view(), args.json), flush=True)

    if args.events:
        service.observers.append(lambda action: _print_event(action, loop.time()))
    service.start(loop)
    try:
        loop.add_signal_handler(signal.SIGUSR1, show)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, done.set)
        if args.interval > 0:
            async def every() -> None:
                while not done.is_set():
                    await asyncio.sleep(args.interval)
                    show()
            ticker = loop.create_task(every())
        if args.once_after is not None:
            loop.call_later(args.once_after, done.set)
        await done.wait()
        if args.interval > 0:
            ticker.cancel()
        show()
    finally:
        service.stop()
    rejected = sum(service.rejects.total.values())
    if rejected:
        print(f"dropped packets: {dict((r.name, n) for r, n in service.rejects.total.items())}", file=sys.stderr)
    print(f"accepted packets: {dict(service.accepted)}", file=sys.stderr)
    return 0
