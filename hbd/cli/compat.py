"""Migration shims: Heartbeat's hb_standby / hb_takeover / cl_status and rgmanager's clustat / clusvcadm as
thin aliases over hbd's own commands, for muscle memory during a migration.

They are installed in /usr/lib/hbd/compat (not on PATH: they would shadow a real Heartbeat or rgmanager
install); `export PATH=/usr/lib/hbd/compat:$PATH` to use them. Only the common forms are understood; anything
else says which hbd command to use instead and exits 2.
"""
from __future__ import annotations

import sys
from typing import Any, Callable

from hbd.cli import handover_cmd
from hbd.cli.client import ask
from hbd.runtime.control import DEFAULT_SOCKET

USAGE = 2


def _status(prog: str) -> dict[str, Any] | int:
    answer = ask(prog, DEFAULT_SOCKET, {"cmd": "status"}, 10.0)
    if isinstance(answer, int):
        return answer
    if not answer.get("ok"):
        print(f"{prog}: {answer.get('error') or answer.get('text')}", file=sys.stderr)
        return 1
    return answer["status"]  # type: ignore[no-any-return]


def hb_standby(argv: list[str]) -> int:
    return handover_cmd.main("standby", argv)


def hb_takeover(argv: list[str]) -> int:
    return handover_cmd.main("takeover", argv)


def cl_status(argv: list[str]) -> int:
    """hbstatus, listnodes, nodestatus NODE, listhblinks NODE, hblinkstatus NODE LINK, rscstatus."""
    if not argv:
        print("usage: cl_status hbstatus|listnodes|nodestatus NODE|listhblinks NODE|hblinkstatus NODE LINK|rscstatus",
              file=sys.stderr)
        return USAGE
    st = _status("cl_status")
    if argv[0] == "hbstatus":
        running = not isinstance(st, int)
        print(f"Heartbeat is {'running' if running else 'stopped'} on this machine.")
        return 0 if running else 1
    if isinstance(st, int):
        return st
    nodes = {n["name"]: n for n in st["nodes"]}
    cmd, rest = argv[0], argv[1:]
    if cmd == "listnodes":
        print("\n".join(nodes))
        return 0
    if cmd in ("nodestatus", "listhblinks", "hblinkstatus") and rest and rest[0] in nodes:
        node = nodes[rest[0]]
        if cmd == "nodestatus":
            print(node["status"])
            return 0 if node["status"] != "dead" else 1
        links = {k["name"]: k for k in node["links"]}
        if cmd == "listhblinks":
            print("\n".join(links))
            return 0
        if len(rest) > 1 and rest[1] in links:
            print("up" if links[rest[1]]["up"] else "dead")
            return 0
    if cmd == "rscstatus":
        held = [g for g in st["groups"] if g["owner"] == st["node"]]
        mine = [g for g in held if g["preferred"] == st["node"]]
        print("all" if held and len(held) == len(st["groups"]) else "local" if held and held == mine
              else "foreign" if held else "none")
        return 0
    print(f"cl_status: '{' '.join(argv)}' is not understood here; see `hbd status --json`", file=sys.stderr)
    return USAGE


def clustat(argv: list[str]) -> int:
    st = _status("clustat")
    if isinstance(st, int):
        return st
    print(f" Member Status: {'Quorate' if st.get('comm_up') else 'Inquorate'}\n")
    print(f"  {'Member Name':<24} {'ID':>4}   Status")
    print(f"  {'-' * 11:<24} {'-' * 4:>4}   ------")
    for i, n in enumerate(st["nodes"], start=1):
        state = "Online" if n["status"] != "dead" else "Offline"
        print(f"  {n['name']:<24} {i:>4}   {state}{', Local, rgmanager' if n['local'] else ''}")
    print(f"\n  {'Service Name':<24} {'Owner (Last)':<24} State")
    print(f"  {'-' * 12:<24} {'-' * 12:<24} -----")
    for g in st["groups"]:
        print(f"  service:{g['key']:<16} {g['owner'] or '(none)':<24} {'started' if g['owner'] else 'stopped'}")
    return 0


def clusvcadm(argv: list[str]) -> int:
    """-r SERVICE [-m NODE]: relocate (hbd-standby here, hbd-takeover on the other node); -e SERVICE: enable here."""
    if len(argv) >= 2 and argv[0] in ("-r", "-e"):
        st = _status("clusvcadm")
        if isinstance(st, int):
            return st
        group = next((g for g in st["groups"] if g["key"] == argv[1]), None)
        if group is None:
            print(f"clusvcadm: no group {argv[1]} (groups: {', '.join(g['key'] for g in st['groups'])})",
                  file=sys.stderr)
            return 1
        here = group["owner"] == st["node"]
        if argv[0] == "-e":
            return 0 if here else hb_takeover(["foreign" if group["preferred"] != st["node"] else "local"])
        if not here:
            print(f"clusvcadm: {argv[1]} does not run here: run clusvcadm -r on its owner, or hbd-takeover",
                  file=sys.stderr)
            return 1
        return hb_standby(["local" if group["preferred"] == st["node"] else "foreign"])
    print("clusvcadm: only -r SERVICE (relocate) and -e SERVICE (enable here) map to hbd; use hbd-standby / "
          "hbd-takeover", file=sys.stderr)
    return USAGE


SHIMS: dict[str, Callable[[list[str]], int]] = {
    "hb_standby": hb_standby, "hb_takeover": hb_takeover, "cl_status": cl_status, "clustat": clustat,
    "clusvcadm": clusvcadm,
}


def main(name: str) -> None:
    sys.exit(SHIMS[name](sys.argv[1:]))
