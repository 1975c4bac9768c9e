"""`fence_hbdlab`: a fence agent for the lab's power switch, written to fence-agents' protocol.

Input: `key=value` lines on stdin (or `--key=value` arguments): `action` (off, on, reboot, status, monitor,
list, metadata), `plug` (or `port`: the node), `socket` (the switch's Unix socket; default: the only lab's).
Exit: 0 success; for status 0 = on, 2 = off; 1 on any failure, with the reason on stderr.
"""
from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Sequence

from hbd.lab.layout import base_dir

TIMEOUT_S = 20.0
EXIT_OK, EXIT_FAIL, EXIT_OFF = 0, 1, 2
METADATA = """<?xml version="1.0" ?>
<resource-agent name="fence_hbdlab" shortdesc="Fence agent for the hbd lab's power switch">
<longdesc>Powers a lab node off and on through the lab's power switch (hbd/lab/power_switch.py).</longdesc>
<parameters>
  <parameter name="action" unique="0" required="1"><content type="string" default="reboot"/>
    <shortdesc lang="en">Fencing action</shortdesc></parameter>
  <parameter name="plug" unique="0" required="1" obsoletes="port"><content type="string"/>
    <shortdesc lang="en">The lab node to fence</shortdesc></parameter>
  <parameter name="socket" unique="0" required="0"><content type="string"/>
    <shortdesc lang="en">The power switch's Unix socket</shortdesc></parameter>
</parameters>
<actions>
  <action name="on"/><action name="off"/><action name="reboot"/><action name="status"/>
  <action name="monitor"/><action name="metadata"/>
</actions>
</resource-agent>
"""


def read_options(argv: Sequence[str], stdin_text: str) -> dict[str, str]:
    options: dict[str, str] = {}
    lines = list(stdin_text.splitlines()) + [a[2:] for a in argv if a.startswith("--")]
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        options[key.strip()] = value.strip()
    if "port" in options and "plug" not in options:
        options["plug"] = options["port"]
    return options


def _default_socket() -> Path | None:
    found = sorted(base_dir().glob("*/power.sock"))
    return found[0] if len(found) == 1 else None


def ask(path: Path, action: str, plug: str) -> dict[str, object]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(TIMEOUT_S)
        sock.connect(str(path))
        sock.sendall(json.dumps({"action": action, "plug": plug}).encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    reply: dict[str, object] = json.loads(data.decode())
    return reply


def main(argv: Sequence[str]) -> int:
    stdin_text = "" if sys.stdin.isatty() else sys.stdin.read()
    options = read_options(argv, stdin_text)
    action = options.get("action", "reboot")
    if action == "metadata":
        sys.stdout.write(METADATA)
        return EXIT_OK
    path = Path(options["socket"]) if options.get("socket") else _default_socket()
    if path is None:
        print("fence_hbdlab: no socket= given and not exactly one lab power switch running", file=sys.stderr)
        return EXIT_FAIL
    plug = options.get("plug", "")
    if action not in ("monitor", "list") and not plug:
        print("fence_hbdlab: plug= is required", file=sys.stderr)
        return EXIT_FAIL
    steps = ["off", "on"] if action == "reboot" else ["monitor" if action == "list" else action]
    reply: dict[str, object] = {}
    for step in steps:
        try:
            reply = ask(path, step, plug)
        except (OSError, ValueError) as exc:
            print(f"fence_hbdlab: power switch {path}: {exc}", file=sys.stderr)
            return EXIT_FAIL
        if not reply.get("ok"):
            print(f"fence_hbdlab: {step} {plug}: {reply.get('text')}", file=sys.stderr)
            return EXIT_FAIL
    print(f"Success: {reply.get('text', '')}")
    if action == "status":
        return EXIT_OK if reply.get("power") == "on" else EXIT_OFF
    return EXIT_OK
