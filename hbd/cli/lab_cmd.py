"""`hbd lab`: bring the namespace lab up, show it, run commands in it, inject faults, tear it down."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from hbd.cli.argtypes import bounded_int, finite, seconds
from hbd.errors import LabError
from hbd.lab.disk import MAX_SIZE_MB, MIN_SIZE_MB, SIZE_MB
from hbd.lab.layout import MAX_NODES, check_name

if TYPE_CHECKING:
    from hbd.lab import Lab

DEFAULT_NAME = "hbl0"
EXEC_TIMEOUT = 3600.0
KILL_WAIT_S = 5.0


def lab_name(text: str) -> str:
    try:
        return check_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hbd lab", description="Two-node cluster and a client in network namespaces.")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="create a lab (switch, nodes n1..nN, client)")
    up.add_argument("--nodes", type=bounded_int(1, MAX_NODES), default=2)
    up.add_argument("--media", type=int, choices=(1, 2), default=2)
    up.add_argument("--name", type=lab_name, default=DEFAULT_NAME,
                    help=f"lab name, 'hbl' + up to 9 [a-z0-9] (default {DEFAULT_NAME})")
    up.add_argument("--disk-mb", type=bounded_int(MIN_SIZE_MB, MAX_SIZE_MB), default=SIZE_MB, metavar="MB",
                    help=f"size of the shared (DRBD) disk, a sparse file (default {SIZE_MB} MB: a small database fits)")

    status = sub.add_parser("status", help="nodes, addresses, media and faults of the labs")
    status.add_argument("name", nargs="?", type=lab_name)
    status.add_argument("--json", action="store_true")

    ex = sub.add_parser("exec", help="run a command in a node: hbd lab exec NODE -- CMD...")
    ex.add_argument("node", help="node name, or 'client'")
    ex.add_argument("argv", nargs=argparse.REMAINDER)
    ex.add_argument("--name", type=lab_name)
    ex.add_argument("--timeout", type=seconds, default=EXEC_TIMEOUT,
                    help="kill the command and every process it started after this many seconds (exit 124)")

    fault = sub.add_parser("fault", help="inject or clear a fault")
    fault.add_argument("--name", type=lab_name)
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
    netem.add_argument("--loss", type=finite(0, 100), help="percent")
    netem.add_argument("--delay-ms", type=finite(0, 60000))
    netem.add_argument("--duplicate", type=finite(0, 100), help="percent")
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
    boot.add_argument("--name", type=lab_name)

    down = sub.add_parser("down", help="remove a lab; without NAME: labs made by `hbd lab up` and leftovers")
    down.add_argument("name", nargs="?", type=lab_name)
    which = down.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="also labs of test runs still running")
    which.add_argument("--leftovers", action="store_true", help="only what crashed or killed runs left behind")
    return parser


def main(argv: list[str]) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse: 0 for --help, 2 for a usage error (its message is printed)
        return int(exc.code or 0)
    try:
        return COMMANDS[args.command](args)
    except ValueError as exc:
        print(f"hbd lab: {exc}", file=sys.stderr)
        return 2


def _up(args: argparse.Namespace) -> int:
    from hbd.lab import Lab

    lab = Lab.up(nodes=args.nodes, media=args.media, name=args.name, persistent=True, disk_mb=args.disk_mb)
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


def _resolve(name: str | None) -> "Lab":
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
    # Its own process group (so a timeout kills everything it started), in the terminal's foreground
    # when there is one (so an interactive shell or Ctrl-C works as with a plain command).
    kwargs: dict[str, Any] = {"stdin": None, "start_new_session": False, "process_group": 0}
    proc = lab.client_spawn(argv, **kwargs) if args.node == "client" else lab.spawn(args.node, argv, **kwargs)
    with _foreground(proc.pid):
        try:
            return int(proc.wait(timeout=args.timeout))
        except subprocess.TimeoutExpired:
            left = kill_group(proc)
            print(f"hbd lab exec: killed after {args.timeout:g} s (process group {proc.pid})"
                  + (f"; still there: {left}" if left else ""), file=sys.stderr)
            return 124  # timeout(1)'s code


def kill_group(proc: subprocess.Popen[Any]) -> list[int]:
    """SIGKILL the command's whole process group and wait (bounded) until it is empty; returns pids left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=KILL_WAIT_S)
    deadline = time.monotonic() + KILL_WAIT_S
    while time.monotonic() < deadline:
        left = group_members(proc.pid)
        if not left:
            return []
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(0.02)
    return group_members(proc.pid)


def group_members(pgid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.append(int(entry))
    return out


@contextlib.contextmanager
def _foreground(pgid: int) -> Iterator[None]:
    """Give the terminal to the command's process group while it runs, then take it back."""
    try:
        fd = sys.stdin.fileno()
        ours = os.tcgetpgrp(fd) if os.isatty(fd) else None
    except (OSError, ValueError):
        ours = None
    if ours is None:
        yield
        return
    old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # a background group may not set the terminal
    try:
        with contextlib.suppress(OSError):
            os.tcsetpgrp(fd, pgid)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.tcsetpgrp(fd, ours)
        signal.signal(signal.SIGTTOU, old)


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
