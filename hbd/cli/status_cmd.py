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
from hbd.core.service_table import DisabledBy
from hbd.runtime import control_messages as cm
from hbd.runtime.control import DEFAULT_SOCKET


def build_parser(reload: bool) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hbd reload" if reload else "hbd status",
                                description="ask the running daemon to re-read its configuration" if reload
                                else "show nodes, links, resource groups (ha.cf) or quorum and services (cluster.conf) "
                                     "of the running daemon")
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
    if "quorum" in st or "services" in st:  # a cluster.conf daemon: services instead of haresources groups
        lines += format_services(st)
    if st["groups"] or "services" not in st:
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
    if not st["groups"] and "services" not in st:
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
    if st.get("vip_links"):
        from hbd.runtime import link_status

        lines += link_status.format_lines(st["vip_links"])
    if st["transitions"]:
        lines.append("recent transitions:")
        lines += [f"  {t['time']}  {t['text']}" for t in st["transitions"][-12:]]
    return "\n".join(lines)


def _disabled_by(word: str) -> str:
    by = {d.name.lower(): d.value for d in DisabledBy}
    return by.get(str(word).lower(), str(word))


def format_services(st: dict[str, Any]) -> list[str]:
    """The quorum line and the services like clustat: name, Owner (Last), State [Z]; then what each resource of
    a service is doing here, restarts, fail count and the last failure."""
    lines = []
    q = st.get("quorum")
    if q:
        lines.append(f"quorum: {'quorate' if q['quorate'] else 'NOT quorate'} ({q['total_votes']} of "
                     f"{q['expected_votes']} expected votes, {q['quorum']} needed); members: "
                     f"{' '.join(q['members']) or 'none'}")
    services = st.get("services", [])
    lines.append("services:")
    width = max((len(s["name"]) for s in services), default=4) + len("service:")
    owners = max((len(s["shown_owner"]) for s in services), default=5)
    if services:
        lines.append(f"  {'Service Name':<{width}}  {'Owner (Last)':<{max(owners, 12)}}  State")
    for svc in services:
        why = f"  ({_disabled_by(svc.get('disabled_by'))})" if svc.get("disabled_by") and not svc["enabled"] else ""
        if svc.get("pending"):
            why += "  (last known: a new placement is being agreed)"
        lines.append(f"  {'service:' + svc['name']:<{width}}  {svc['shown_owner']:<{max(owners, 12)}}  "
                     f"{svc['shown_state']}{why}")
        for res in svc.get("resources", []):
            lines.append(f"  {'':<{width}}    {res['resource']}: {res['state']}")
        last = svc.get("last_failure")
        if svc.get("failures") or svc.get("restarts") or last:
            lines.append(f"  {'':<{width}}    restarts {svc['restarts']}, fail count {svc['failures']}"
                         + (f"; last failure {last['time']}: {last['resource']}: {last['reason']}" if last else ""))
    if not services:
        lines.append("  (none configured)")
    return lines


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
