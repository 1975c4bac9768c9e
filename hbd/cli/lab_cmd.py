"""`hbd lab`: bring the namespace lab up, show it, run commands in it, inject faults, tear it down."""
from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
from typing import Any

from hbd.errors import LabError

DEFAULT_NAME = "hbl0"
EXEC_TIMEOUT = 3600.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hbd lab", description="Two-node cluster and a client in network namespaces.")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="create a lab (switch, nodes n1..nN, client)")
    up.add_argument("--nodes", type=int, default=2)
    up.add_argument("--media", type=int, choices=(1, 2), default=2)
    up.add_argument("--name", default=DEFAULT_NAME, help=f"lab name, 'hbl' + up to 9 [a-z0-9] (default {DEFAULT_NAME})")

    status = sub.add_parser("status", help="nodes, addresses, media and faults of the labs")
    status.add_argument("name", nargs="?")
    status.add_argument("--json", action="store_true")

    ex = sub.add_parser("exec", help="run a command in a node: hbd lab exec NODE -- CMD...")
    ex.add_argument("node", help="node name, or 'client'")
    ex.add_argument("argv", nargs=argparse.REMAINDER)
    ex.add_argument("--name")
    ex.add_argument("--timeout", type=float, default=EXEC_TIMEOUT)

    fault = sub.add_parser("fault", help="inject or clear a fault")
    fault.add_argument("--name")
    kinds = fault.add_subparsers(dest="fault", required=True)
    cut = kinds.add_parser("cut", help="cut a medium (or all) of a node")
    cut.add_argument("node")
    cut.add_argument("--medium", type=int)
    cut.add_argument("--how", choices=("link", "filter"), default="link")
    restore = kinds.add_parser("restore", help="undo cuts of a node")
    restore.add_argument("node")
    restore.add_argument("--medium", type=int)
    netem = kinds.add_parser("netem", help="loss / delay / duplication on a node's medium")
    netem.add_argument("node")
    netem.add_argument("medium", type=int)
    netem.add_argument("--loss", type=float, help="percent")
    netem.add_argument("--delay-ms", type=float)
    netem.add_argument("--duplicate", type=float, help="percent")
    clear = kinds.add_parser("clear-netem", help="remove the impairment of a node's medium")
    clear.add_argument("node")
    clear.add_argument("medium", type=int)
    for name, text in (("freeze", "stop every process of a node (a hung node)"), ("thaw", "resume a frozen node"),
                       ("power-off", "kill every process of a node, drop its links, and lose its run-time "
                                     "addresses and /run/hbd")):
        kinds.add_parser(name, help=text).add_argument("node")
    kill = kinds.add_parser("kill", help="signal a named process in a node")
    kill.add_argument("node")
    kill.add_argument("process")
    kill.add_argument("--signal", default="KILL", help="signal name or number (default KILL)")

    boot = sub.add_parser("boot", help="power a node back on")
    boot.add_argument("node")
    boot.add_argument("--name")

    down = sub.add_parser("down", help="remove a lab; without NAME: labs made by `hbd lab up` and leftovers")
    down.add_argument("name", nargs="?")
    which = down.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="also labs of test runs still running")
    which.add_argument("--leftovers", action="store_true", help="only what crashed or killed runs left behind")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ValueError as exc:
        print(f"hbd lab: {exc}", file=sys.stderr)
        return 2


def _up(args: argparse.Namespace) -> int:
    from hbd.lab import Lab

    lab = Lab.up(nodes=args.nodes, media=args.media, name=args.name, persistent=True)
    print(format_status(lab.status()))
    return 0


def _status(args: argparse.Namespace) -> int:
    from hbd.lab import Lab
    from hbd.lab.cleanup import known_names, owner_alive

    names = [args.name] if args.name else sorted(known_names())
    statuses = []
    for name in names:
        try:
            statuses.append(Lab.attach(name).status())
        except LabError:
            if args.name:
                raise
            statuses.append({"name": name, "leftover": True, "owner_alive": owner_alive(name)})
    if args.json:
        print(json.dumps(statuses, indent=1))
    elif not statuses:
        print("no lab")
    else:
        print("\n\n".join(format_status(s) for s in statuses))
    return 0 if statuses or not args.name else 1


def _resolve(name: str | None):
    from hbd.lab import Lab
    from hbd.lab.cleanup import known_names, owner_alive

    if name is None:
        # Labs of running test sessions are not candidates: only those made by `hbd lab up`.
        names = sorted(n for n in known_names() if owner_alive(n) is None)
        if len(names) != 1:
            raise LabError(f"{len(names)} labs made by `hbd lab up` ({', '.join(names) or 'none'}): "
                           "say which with --name")
        name = names[0]
    return Lab.attach(name)


def _exec(args: argparse.Namespace) -> int:
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        print("hbd lab exec: no command (hbd lab exec NODE -- CMD...)", file=sys.stderr)
        return 2
    lab = _resolve(args.name)
    kwargs: dict[str, Any] = {"stdin": None, "start_new_session": False}
    proc = lab.client_spawn(argv, **kwargs) if args.node == "client" else lab.spawn(args.node, argv, **kwargs)
    try:
        return proc.wait(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
        print(f"hbd lab exec: killed after {args.timeout:g} s", file=sys.stderr)
        return 1


def _fault(args: argparse.Namespace) -> int:
    lab = _resolve(args.name)
    kind = args.fault
    if kind == "cut":
        lab.cut(args.node, args.medium, how=args.how)
    elif kind == "restore":
        lab.restore(args.node, args.medium)
    elif kind == "netem":
        lab.netem(args.node, args.medium, loss=args.loss, delay_ms=args.delay_ms, duplicate=args.duplicate)
    elif kind == "clear-netem":
        lab.clear_netem(args.node, args.medium)
    elif kind == "freeze":
        lab.freeze(args.node)
    elif kind == "thaw":
        lab.thaw(args.node)
    elif kind == "power-off":
        lab.power_off(args.node)
    elif kind == "kill":
        sig = int(args.signal) if args.signal.isdigit() else signal.Signals["SIG" + args.signal.upper().removeprefix("SIG")]
        pids = lab.kill(args.node, args.process, sig)
        print(" ".join(map(str, pids)))
    return 0


def _boot(args: argparse.Namespace) -> int:
    _resolve(args.name).boot(args.node)
    return 0


def _down(args: argparse.Namespace) -> int:
    from hbd.lab.cleanup import known_names, leftovers, owner_alive, remove_by_name

    if args.name:
        names = [args.name]
    elif args.all:
        names = sorted(known_names())
    elif args.leftovers:
        names = leftovers()
    else:
        names = sorted({n for n in known_names() if owner_alive(n) is None} | set(leftovers()))
    for name in names:
        remove_by_name(name)
        print(f"removed lab {name}")
    return 0


def format_status(s: dict[str, Any]) -> str:
    if s.get("leftover"):
        return f"lab {s['name']}: leftover of a crashed run (remove with: hbd lab down {s['name']})"
    media = "  ".join(f"eth{i}={net}" for i, net in enumerate(s["media"]))
    drbd = s["drbd"]
    lines = [f"lab {s['name']}   media: {media}   drbd {drbd['resource']}: {drbd['loop']} as {drbd['device']}",
             f"  {'node':<7}{'netns':<16}{'addresses':<32}{'procs':<7}state"]
    for node, info in s["nodes"].items():
        state = "powered off" if info["powered_off"] else "frozen" if info["frozen"] else "up"
        lines.append(f"  {node:<7}{info['netns']:<16}{' '.join(info['addresses']):<32}{info['processes']:<7}{state}")
    lines.append(f"  {'client':<7}{s['client']['netns']:<16}{s['client']['address']}")
    for key, how in sorted(s["cuts"].items()):
        lines.append(f"  fault: {key.replace(':', ' eth')} cut ({how})")
    for key, spec in sorted(s["netem"].items()):
        lines.append(f"  fault: {key.replace(':', ' eth')} impaired {spec}")
    return "\n".join(lines)


COMMANDS = {"up": _up, "status": _status, "exec": _exec, "fault": _fault, "boot": _boot, "down": _down}
