"""`python -m hbd.agents [options] AGENT [ARGS] start|stop|status`: run one agent, Heartbeat-style output.

OPERATION may be several, comma separated (`start,status,stop`), run in order in one process (one
network and mount namespace); the exit code is then that of the last.
AGENT ARGS is a haresources resource, `::` or space separated: `IPaddr2 192.0.2.50/24/eth0`,
`IPaddr2::192.0.2.50/24/eth0`, `Filesystem /dev/loop0 /mnt ext4`, `drbddisk r0`, `ocf:heartbeat:Dummy
state=/tmp/x`. Exit codes follow the resource.d wrappers: 0 success (status: running), 7 status
stopped, 1 failure; drbddisk keeps its own (status stopped 3).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from hbd.agents.base import OPS, Agent, Outcome
from hbd.agents.registry import Registry
from hbd.errors import AgentError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m hbd.agents", description=__doc__.splitlines()[0])
    p.add_argument("--timeout", type=float, default=None, help="seconds for the operation")
    p.add_argument("--arp-probe-ms", default=None, help="duplicate-address probe time; 0 disables it")
    p.add_argument("--garp-count", default=None, help="announcement rounds, the first included")
    p.add_argument("--garp-interval-ms", default=None, help="time between announcement rounds")
    p.add_argument("--monitor-link", action="store_const", const="1", default=None,
                   help="IPaddr2 status also requires the link to be up with carrier")
    p.add_argument("--status-by-output", action="store_true",
                   help="judge resource.d status by its output (Heartbeat's running/OK rule)")
    p.add_argument("--no-builtin", action="store_true",
                   help="run /etc/ha.d/resource.d/AGENT (or /etc/init.d/AGENT) even where hbd has its own agent")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object with timestamps")
    p.add_argument("--foreground-burst", action="store_true", help="wait for the announcement burst to end")
    p.add_argument("resource", nargs="+", help="AGENT[::ARGS] [ARGS...] OPERATION")
    return p


def split_words(words: list[str]) -> tuple[str, tuple[str, ...], list[str]]:
    *res, last = words
    ops = last.split(",")
    if not res or not all(op in OPS for op in ops):
        raise AgentError(f"expected AGENT [ARGS] {{{'|'.join(OPS)}}}[,...], got: {' '.join(words)}")
    name, *first_args = res[0].split("::")
    return name, tuple(first_args) + tuple(res[1:]), ops


def exit_code(agent_kind: str, op: str, outcome: Outcome) -> int:
    if op == "status":
        if outcome is Outcome.RUNNING:
            return 0
        if outcome is Outcome.STOPPED:
            return 3 if agent_kind == "drbddisk" else 7
        return 1
    return 0 if outcome is (Outcome.RUNNING if op == "start" else Outcome.STOPPED) else 1


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    settings = {"arp_probe_ms": args.arp_probe_ms, "garp_count": args.garp_count,
                "garp_interval_ms": args.garp_interval_ms, "monitor_link": args.monitor_link}
    registry = Registry(status_by_output=args.status_by_output, background_burst=args.foreground_burst,
                        use_builtins=not args.no_builtin)
    try:
        name, agent_args, ops = split_words(args.resource)
        agent = registry.for_haresource(name, agent_args, settings)
    except AgentError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    code = 0
    for op in ops:
        code = run_one(agent, op, args)
    return code


def run_one(agent: Agent, op: str, args: argparse.Namespace) -> int:
    warm_up = getattr(agent, "warm_up", None)
    if warm_up is not None:
        warm_up()  # a one-shot call imports its libraries first, not inside the call it times
    t_call = time.monotonic()
    result = agent.call(op, args.timeout)  # type: ignore[arg-type]
    t_done = time.monotonic()
    burst = getattr(agent, "burst", None)
    if burst is not None:
        if args.foreground_burst:
            burst.wait(burst.remaining * burst.interval_s + 5.0)
        else:
            burst.detach()
    if args.json:
        print(json.dumps({"op": op, "outcome": result.outcome.value, "reason": result.reason,
                          "actions": list(result.actions), "t_call": t_call, "t_done": t_done,
                          "duration_s": result.duration_s}))
    else:
        for line in result.actions:
            print(f"INFO: {line}")
        if result.reason:
            print(f"ERROR: {result.reason}")
        print(f"INFO: {result.outcome.value}")
    sys.stdout.flush()
    return exit_code(agent.kind, op, result.outcome)


if __name__ == "__main__":
    sys.exit(main())
