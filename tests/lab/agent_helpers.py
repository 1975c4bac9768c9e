"""Running hbd's agents inside lab nodes and watching the client side of the wire."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from hbd.lab import Lab

AGENTS = [sys.executable, "-m", "hbd.agents", "--json"]
NA_CAPTURE = Path(__file__).with_name("na_capture.py")


def agent(lab: Lab, node: str, *words: str, timeout: float = 30) -> tuple[int, list[dict]]:
    """(exit code, one result per operation) of `python -m hbd.agents --json WORDS` in a node."""
    res = lab.exec(node, [*AGENTS, *words], check=False, timeout=timeout)
    found = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert found or res.returncode == 2, f"no result from {words}: rc={res.returncode} stderr={res.stderr}"
    return res.returncode, found


def mac(lab: Lab, node: str, dev: str = "eth0") -> str:
    return json.loads(lab.exec(node, ["ip", "-j", "link", "show", "dev", dev]).stdout)[0]["address"]


def addresses(lab: Lab, node: str, dev: str = "eth0") -> list[dict]:
    return json.loads(lab.exec(node, ["ip", "-j", "addr", "show", "dev", dev]).stdout)[0]["addr_info"]


def has_address(lab: Lab, node: str, ip: str, dev: str = "eth0") -> bool:
    return any(a["local"] == ip for a in addresses(lab, node, dev))


def enable_ipv6(lab: Lab, nodes: list[str]) -> None:
    """The lab keeps IPv6 off for quiet captures; these tests turn it on in their own namespaces."""
    for run in [lambda argv, n=n: lab.exec(n, argv) for n in nodes] + [lab.client_exec]:
        for key in ("all", "default", "eth0"):
            run(["sysctl", "-q", "-w", f"net.ipv6.conf.{key}.disable_ipv6=0"])
        run(["sysctl", "-q", "-w", "net.ipv6.conf.eth0.dad_transmits=0"])


def client_neighbours6(lab: Lab) -> dict[str, str]:
    out = lab.client_exec(["ip", "-j", "-6", "neigh", "show", "dev", "eth0"]).stdout
    return {e["dst"]: e["lladdr"] for e in json.loads(out or "[]") if "lladdr" in e}


class NaCapture:
    """Neighbour advertisements reaching the client, one JSON line each, from a capture process."""

    def __init__(self, lab: Lab, seconds: float = 20):
        self.proc = lab.client_spawn([sys.executable, str(NA_CAPTURE), "eth0", str(seconds)],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"

    def stop(self) -> list[dict]:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def wait_until(check, timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return bool(check())
