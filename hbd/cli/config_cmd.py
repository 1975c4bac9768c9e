"""`hbd config check|show`: validate a configuration (both formats) and show the values hbd will use.

`check` prints every problem as `file:line: error|warning: text`, then one summary line; it exits 0
when the configuration is usable (warnings allowed), 1 when it is not, 2 on a usage error.
`show` prints the effective values, derived defaults included, like `heartbeat -D` and
`cl_status hbparameter` do for Heartbeat.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from hbd.config import LoadedConfig, load, runnable
from hbd.config.hacf import local_node_name
from hbd.config.units import format_msec
from hbd.errors import ConfigError, Problem

FILE_ORDER = {"ha.cf": 0, "authkeys": 1, "haresources": 2}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hbd config", description="Check or show hbd's configuration.")
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    for name, text in (("check", "check the configuration and list every problem"),
                       ("show", "print the effective values, derived defaults included")):
        action = sub.add_parser(name, help=text, description=text)
        action.add_argument("-c", "--config", metavar="PATH", default=None,
                            help="ha.cf's directory, ha.cf itself or cluster.conf (default: /etc/cluster/"
                                 "cluster.conf if present, else /etc/ha.d)")
        action.add_argument("--node", metavar="NAME", default=None,
                            help="the local node's name (default: /etc/ha.d/nodeinfo or `uname -n`)")
    return parser


def main(argv: Sequence[str]) -> int:
    try:
        args = _parser().parse_args(list(argv))
    except SystemExit as exc:  # argparse exits 0 for --help, 2 for a usage error
        return int(exc.code or 0)
    try:
        loaded = load(args.config, args.node)
    except ConfigError as exc:
        _print_problems(exc.problems)
        print(_summary(exc.problems, usable=False))
        return 1
    except ImportError as exc:
        print(f"hbd config: this configuration format is not supported yet ({exc.name})", file=sys.stderr)
        return 1
    here = on_this_node(loaded)
    problems = list(loaded.problems) + runnable.check(loaded, on_node=here)
    usable = not any(p.severity == "error" for p in problems)
    if args.action == "show":
        _print_problems(problems, stream=sys.stderr)
        print(_show(loaded))
        return 0
    _print_problems(problems)
    if usable and loaded.heartbeat is not None:
        print(_node_note(loaded, here))
    print(_summary(problems, usable=usable, loaded=loaded))
    return 0 if usable else 1


def on_this_node(loaded: LoadedConfig) -> bool:
    """True when the local node checked is this machine (nodeinfo or `uname -n`): node-local checks apply."""
    if loaded.heartbeat is None:
        return False
    return loaded.heartbeat.hacf.local_node == local_node_name(Path(loaded.path), None)


def _node_note(loaded: LoadedConfig, here: bool) -> str:
    assert loaded.heartbeat is not None
    node = loaded.heartbeat.hacf.local_node
    if here:
        return f"note: node-local checks (interfaces, scripts, DRBD resources) were run on this node ({node})"
    return (f"note: node-local checks (interfaces, scripts, DRBD resources) were not run: this machine is "
            f"{local_node_name(Path(loaded.path), None)}, not {node}; run hbd config check on {node}")


def _print_problems(problems: Sequence[Problem], stream: object = None) -> None:
    """Problems grouped by file (ha.cf, authkeys, haresources, then others), in the order found within a file."""
    first_seen = {p.file: i for i, p in reversed(list(enumerate(problems)))}

    def file_rank(problem: Problem) -> tuple[int, int]:
        return FILE_ORDER.get(Path(problem.file).name, len(FILE_ORDER)), first_seen[problem.file]

    for problem in sorted(problems, key=file_rank):
        print(problem, file=stream or sys.stdout)  # type: ignore[arg-type]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _summary(problems: Sequence[Problem], usable: bool, loaded: LoadedConfig | None = None) -> str:
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    counts = f"{_plural(errors, 'error')} and {_plural(warnings, 'warning')}"
    if not usable:
        return f"{counts}: the configuration is not usable"
    what = ""
    if loaded is not None and loaded.heartbeat is not None:
        hb = loaded.heartbeat
        what = (f" ({_plural(len(hb.hacf.nodes), 'node')}, {_plural(len(hb.hacf.media), 'medium')}"
                f", {_plural(len(hb.groups), 'resource group')}; local node {hb.hacf.local_node})")
    where = loaded.path if loaded is not None else ""
    return f"{counts}: {where} is usable{what}"


def _show(loaded: LoadedConfig) -> str:
    if loaded.heartbeat is None:
        return f"config: {loaded.path} ({loaded.kind})"
    hb = loaded.heartbeat
    hacf, timing = hb.hacf, hb.hacf.timing
    rows = [
        ("config", loaded.path),
        ("node", " ".join(hacf.nodes)),
        ("local node", hacf.local_node),
        ("keepalive", format_msec(timing.keepalive_ms)),
        ("deadtime", format_msec(timing.deadtime_ms)),
        ("warntime", format_msec(timing.warntime_ms)),
        ("initdead", format_msec(timing.initdead_ms)),
        ("deadping", format_msec(timing.deadping_ms)),
        ("udpport", str(hacf.udpport)),
        ("auto_failback", hacf.auto_failback),
        ("hopfudge", str(hacf.hopfudge)),
        ("realtime", "on" if hacf.realtime else "off"),
        ("use_logd", "on" if hacf.use_logd else "off"),
        ("logfile", hacf.logfile or "(none)"),
        ("debugfile", hacf.debugfile or "(none)"),
        ("logfacility", hacf.logfacility or "(none)"),
        ("ping", " ".join(hacf.ping_nodes) or "(none)"),
    ]
    for medium in hacf.media:
        detail = " ".join(str(x) for x in (medium.address, medium.ttl) if x is not None)
        loop = "" if medium.loop is None else f" loop {int(medium.loop)}"
        rows.append(("medium", f"{medium.kind} {medium.interface} {detail} port {medium.port}{loop}".replace("  ", " ")))
    if hb.authkeys.keys:
        rows.append(("auth", f"{hb.authkeys.active} ({hb.authkeys.signing_key.method})"))
    for group in hb.groups:
        rows.append((f"group {group.number}", f"{group.node}: " + " ".join(r.text for r in group.resources)))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)
