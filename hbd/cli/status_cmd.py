"""`hbd status [--json]` and `hbd reload`: ask the running daemon over its control socket.

Exit codes: 0 running (or reload accepted), 1 error (or reload refused), 3 not running.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hbd.cli.argtypes import seconds, socket_path
from hbd.cli.client import ask
from hbd.runtime import control_messages as cm
from hbd.runtime.control import DEFAULT_SOCKET


def build_parser(reload: bool) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hbd reload" if reload else "hbd status",
                                description="ask the running daemon to re-read its configuration" if reload
                                else "show nodes, links and resource groups of the running daemon")
    if not reload:
        p.add_argument("--json", action="store_true", help="print the status as one JSON object")
    p.add_argument("--socket", type=socket_path, default=str(DEFAULT_SOCKET), help="control socket path")
    p.add_argument("--timeout", type=seconds, default=10.0, help="seconds to wait for the daemon")
    return p


def format_status(st: dict[str, Any]) -> str:
    lines = [f"hbd {st['version']} on {st['node']}: running (pid {st['pid']}, up {st['uptime_s']:.0f} s), "
             f"{st['phase']}{', stable' if st['stable'] else ', in transition'}"]
    lines.append("nodes:")
    for node in st["nodes"]:
        links = ", ".join(f"{k['name']} {'up' if k['up'] else 'dead'}" for k in node["links"])
        who = " (this node)" if node["local"] else ""
        lines.append(f"  {node['name']:<12} {node['status']:<7}{who}" + (f"  links: {links}" if links else ""))
    lines.append("groups:")
    width = max((len(g["key"]) for g in st["groups"]), default=5)
    for group in st["groups"]:
        owner = group["owner"] or "nobody"
        lines.append(f"  {group['key']:<{width}}  owner {owner:<10} here: {group['state']:<9} "
                     f"preferred {group['preferred']}")
        for res in group.get("resources", []):
            lines.append(f"  {'':<{width}}    {res['resource']}: {res['state']}")
        mon = group.get("monitor")
        if mon and (mon["failures"] or mon["last_failure"]):
            last = mon["last_failure"]
            lines.append(f"  {'':<{width}}    fail count {mon['failures']}, restarts in window {mon['restarts']}"
                         + (f"; last failure {last['time']}: {last['resource']}: {last['reason']}" if last else ""))
    if not st["groups"]:
        lines.append("  (none configured)")
    if st.get("config_differs"):
        lines.append(f"resource configuration differs from the peer's for: {' '.join(st['config_differs'])} "
                     "(not started or moved; see the log)")
    if st.get("standby"):
        sb = st["standby"]
        lines.append(f"handover in progress: {sb['role']} of {sb['which']} ({sb['phase']})")
    if st.get("drbd"):
        from hbd.runtime.drbd_status import format_lines

        lines += format_lines(st["drbd"])
    if st.get("ping"):
        from hbd.runtime import ping_status

        lines += ping_status.format_lines(st["ping"])
    if st["transitions"]:
        lines.append("recent transitions:")
        lines += [f"  {t['time']}  {t['text']}" for t in st["transitions"][-12:]]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    reload = bool(argv) and argv[0] == "--reload"
    args = build_parser(reload).parse_args(argv[1:] if reload else argv)
    answer = ask("hbd", Path(args.socket), cm.ReloadRequest() if reload else cm.StatusRequest(), args.timeout)
    if isinstance(answer, int):
        return answer
    if reload:
        reply = cm.ReloadReply.from_wire(answer)
        print(reply.text, file=sys.stdout if reply.ok else sys.stderr)
        return reply.outcome.exit_code
    if not answer.get("ok"):
        print(f"hbd: {answer.get('error') or answer.get('text')}", file=sys.stderr)
        return 1
    print(json.dumps(answer["status"], indent=2) if args.json else format_status(answer["status"]))
    return 0
