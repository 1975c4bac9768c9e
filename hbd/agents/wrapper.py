"""The resource.d executables (IPaddr2, drbddisk, Filesystem): Heartbeat's calling and output conventions.

`IPaddr2 ARG start|stop|status`, `Filesystem DEV DIR [TYPE [OPTS]] ACTION`, `drbddisk [RES] ACTION`.
IPaddr2 and Filesystem print what the hto-mapfuncs wrappers print (`INFO:  Running OK` exit 0,
`INFO:  Resource is stopped` exit 7, `INFO:  Success`, `ERROR:  Generic error` exit 1); drbddisk prints
`running (Primary)` exit 0 / `stopped (Secondary)` exit 3 / `cannot determine status, may be running`
exit 4, as drbd-utils' script does. Heartbeat judges status by that text, so it reads ours the same way.
"""
from __future__ import annotations

import logging
import sys

from hbd.agents.base import OPS, Agent, AgentResult, Outcome
from hbd.agents.registry import Registry
from hbd.errors import AgentError

USAGE = {
    "IPaddr2": "usage: {prog} ip-address[/netmaskbits[/interface[:label][/broadcast]]] (start|stop|status)",
    "Filesystem": "usage: {prog} <device> <directory> [<fstype> [<options>]] (start|stop|status)",
    "drbddisk": "usage: {prog} [resource] (start|stop|status)",
}


def _mapfuncs_output(op: str, result: AgentResult) -> tuple[list[str], int]:
    """hto-mapfuncs' lines; its `$rsc_type` is unset, hence the two spaces."""
    lines = [f"INFO: {line}" for line in result.actions]
    if op == "status" and result.outcome is Outcome.RUNNING:
        return lines + ["INFO:  Running OK"], 0
    if op == "status" and result.outcome is Outcome.STOPPED:
        return lines + ["INFO:  Resource is stopped"], 7
    if result.ok:
        return lines + ["INFO:  Success"], 0
    return lines + [f"ERROR: {result.reason}", "ERROR:  Generic error"], 1


def _drbddisk_output(op: str, result: AgentResult) -> tuple[list[str], int]:
    if op != "status":
        return ([] if result.ok else [result.reason]), (0 if result.ok else 1)
    role = result.actions[0].rsplit(": ", 1)[-1].split("/")[0] if result.actions else "Unknown"
    if result.outcome is Outcome.RUNNING:
        return [f"running ({role})"], 0
    if result.outcome is Outcome.STOPPED:
        return [f"stopped ({role})"], 3
    what = role if result.actions else result.reason
    return [f"cannot determine status, may be running ({what})"], 4


def build(kind: str, args: list[str], registry: Registry) -> Agent:
    if kind == "IPaddr2" and len(args) != 1:
        raise AgentError("one argument expected")
    if kind == "Filesystem" and not 2 <= len(args) <= 4:
        raise AgentError("device and directory expected")
    if kind == "drbddisk" and len(args) > 1:
        raise AgentError("at most one resource expected")
    return registry.builtin(kind, tuple(args) if args else ("all",), {})


def main(kind: str, argv: list[str], prog: str | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    usage = USAGE[kind].format(prog=prog or kind)
    if not argv or argv[-1] not in OPS:
        print(usage)
        return 1
    *args, op = argv
    try:
        agent = build(kind, args, Registry(background_burst=False))
    except AgentError as exc:
        print(f"ERROR: {exc}")
        if kind != "drbddisk":
            print(usage)
        return 1 if kind != "drbddisk" or op != "status" else 10
    result = agent.call(op)  # type: ignore[arg-type]
    burst = getattr(agent, "burst", None)
    if burst is not None:
        burst.detach()  # send_arp runs in the background in Heartbeat too
    lines, code = (_drbddisk_output if kind == "drbddisk" else _mapfuncs_output)(op, result)
    for line in lines:
        print(line)
    sys.stdout.flush()
    return code
