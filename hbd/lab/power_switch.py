"""The lab's power switch: a network PDU stand-in that fence agents inside the nodes talk to.

It listens on a Unix socket in the lab's directory (visible from every node's mount namespace) and answers
one JSON line per connection: `{"action": "off"|"on"|"status"|"monitor", "plug": NODE}` ->
`{"ok": bool, "power": "on"|"off", "text": ...}`. `off` is the lab's power-off (every process killed, links
dropped), `on` boots the node again. `broken = True` makes it refuse every request, as an unreachable PDU
would, so tests can show that nothing is taken over while fencing fails. The agent that speaks to it is
hbd/lab/fence_agent.py (`fence_hbdlab`, installed into the lab's bin directory, on every node's PATH).
"""
from __future__ import annotations

import json
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from hbd.lab.lab import Lab

AGENT = "fence_hbdlab"
SOCKET_NAME = "power.sock"
REQUEST_LIMIT = 4096
ACCEPT_POLL_S = 0.2


def socket_path(lab: Lab) -> Path:
    return lab.layout.dir / SOCKET_NAME


def install_agent(lab: Lab) -> Path:
    """Write the `fence_hbdlab` executable into the lab's bin directory (on every node's PATH)."""
    lab.layout.bin_dir.mkdir(parents=True, exist_ok=True)
    exe = lab.layout.bin_dir / AGENT
    exe.write_text(f"#!{sys.executable}\n"
                   '"""Fence agent of the hbd lab (see hbd/lab/fence_agent.py)."""\n'
                   "import sys\nfrom hbd.lab.fence_agent import main\nsys.exit(main(sys.argv[1:]))\n")
    exe.chmod(0o755)
    return exe


class PowerSwitch:
    """Run as a context manager around a lab test: `with PowerSwitch(lab) as switch: ...`."""

    def __init__(self, lab: Lab):
        self.lab = lab
        self.path = socket_path(lab)
        self.broken = False
        self.requests: list[tuple[str, str]] = []  # (action, plug), in arrival order
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "PowerSwitch":
        install_agent(self.lab)
        self.path.unlink(missing_ok=True)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(self.path))
        self._sock.listen(8)
        self._sock.settimeout(ACCEPT_POLL_S)
        self._thread = threading.Thread(target=self._serve, name="lab-power-switch", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()
        self.path.unlink(missing_ok=True)

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (socket.timeout, OSError):
                continue
            with conn:
                conn.settimeout(5)
                try:
                    reply = self.handle(json.loads(conn.recv(REQUEST_LIMIT).decode()))
                except (OSError, ValueError) as exc:
                    reply = {"ok": False, "text": f"bad request: {exc}"}
                try:
                    conn.sendall((json.dumps(reply) + "\n").encode())
                except OSError:
                    pass

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        action, plug = str(request.get("action", "")), str(request.get("plug", ""))
        with self.lock:
            self.requests.append((action, plug))
            if self.broken:
                return {"ok": False, "text": "power switch not answering"}
            if action == "monitor":
                return {"ok": True, "text": "switch ok"}
            if plug not in self.lab.nodes:
                return {"ok": False, "text": f"no outlet {plug!r} (outlets: {', '.join(self.lab.nodes)})"}
            if action == "off":
                self.lab.power_off(plug)
            elif action == "on":
                if plug in self.lab.state["powered_off"]:
                    self.lab.boot(plug)
            elif action != "status":
                return {"ok": False, "text": f"unknown action {action!r}"}
            power = "off" if plug in self.lab.state["powered_off"] else "on"
            return {"ok": True, "power": power, "text": f"{plug}: {power}"}

    def fenced(self) -> list[str]:
        with self.lock:
            return [plug for action, plug in self.requests if action == "off"]
