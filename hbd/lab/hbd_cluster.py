"""Two hbd daemons in a lab with a VIP group (IPaddr2 + a small service): configs, start/stop, status.

Used by `hbd demo`, the daemon's lab tests and the failover benches:

    cluster = HbdCluster(lab, ClusterSettings(keepalive_ms=200, deadtime_ms=1000))
    cluster.write_config()           # ha.cf, authkeys, haresources, the service script, on every node
    cluster.start("n1"); cluster.start("n2")
    cluster.wait_owner("n1", timeout=10)
    cluster.status("n2")             # `hbd status --json` run inside n2
    cluster.close()                  # SIGTERM, then SIGKILL, for every daemon still running

The service is a resource.d script whose state is a file under the node's /dev/shm; the lab's responder
answers on every address, so the VIP answers with the name of the node that holds it.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from hbd.errors import LabError
from hbd.lab.lab import Lab

VIP = "192.0.2.50"
SERVICE = "hbdsvc"
AUTHKEYS = "auth 1\n1 sha1 4b1d0c7e2a9f6358\n"  # sha1: a Heartbeat 3.0.6 node (no sha256) can join
SERVICE_SCRIPT = """#!/bin/sh
# A small service for the lab's VIP group: its state is a file; status prints running / stopped.
STATE=/dev/shm/hbdsvc.running
case "$1" in
  start) [ -e "$STATE.fail-start" ] && { echo "hbdsvc: cannot start"; exit 1; }
         touch "$STATE"; echo "hbdsvc started";;
  stop) [ -e "$STATE.fail-stop" ] && { echo "hbdsvc: cannot stop"; exit 1; }
        rm -f "$STATE"; echo "hbdsvc stopped";;
  status) if [ -e "$STATE" ]; then echo "running"; exit 0; fi; echo "stopped"; exit 3;;
  *) echo "usage: $0 start|stop|status"; exit 1;;
esac
"""
STOP_TIMEOUT_S = 30.0
SERVICE_STATE = "/dev/shm/hbdsvc.running"


@dataclass(frozen=True)
class ClusterSettings:
    keepalive_ms: int = 200
    deadtime_ms: int = 1000
    initdead_ms: int = 2000
    auto_failback: str = "on"
    preferred: str = "n1"
    vip: str = VIP
    realtime: bool = True

    def hacf(self, nodes: list[str], extra: str = "") -> str:
        return (f"keepalive {self.keepalive_ms}ms\ndeadtime {self.deadtime_ms}ms\n"
                f"warntime {max(self.deadtime_ms // 2, self.keepalive_ms + 1)}ms\n"
                f"initdead {self.initdead_ms}ms\nudpport 694\nbcast eth0 eth1\n"
                f"auto_failback {self.auto_failback}\nrealtime {'on' if self.realtime else 'off'}\n"
                f"logfile /var/log/hbd/hbd.log\ndebugfile /var/log/hbd/hbd.debug\nlogfacility none\n"
                f"node {' '.join(nodes)}\n{extra}")

    def haresources(self) -> str:
        return f"{self.preferred} IPaddr2::{self.vip}/24/eth0 {SERVICE}\n"

    @property
    def group(self) -> str:
        return f"IPaddr2::{self.vip}/24/eth0"


class HbdCluster:
    def __init__(self, lab: Lab, settings: ClusterSettings = ClusterSettings()):
        self.lab = lab
        self.settings = settings
        self.procs: dict[str, subprocess.Popen[Any]] = {}

    # --- files ----------------------------------------------------------------------------------

    def write_config(self, nodes: list[str] | None = None, hacf_extra: str = "") -> None:
        for node in nodes or self.lab.nodes:
            ha_d = self.lab.path(node, "/etc/ha.d")
            (ha_d / "ha.cf").write_text(self.settings.hacf(self.lab.nodes, hacf_extra))
            (ha_d / "authkeys").write_text(AUTHKEYS)
            os.chmod(ha_d / "authkeys", 0o600)
            (ha_d / "haresources").write_text(self.settings.haresources())
            scripts = ha_d / "resource.d"
            scripts.mkdir(exist_ok=True)
            (scripts / SERVICE).write_text(SERVICE_SCRIPT)
            (scripts / SERVICE).chmod(0o755)

    def log(self, node: str) -> str:
        return self.log_file(node, "hbd.log")

    def stderr(self, node: str) -> str:
        return self.log_file(node, "hbd.stderr")

    def log_file(self, node: str, name: str) -> str:
        """A file of the node's /var/log/hbd (hbd.log, hbd.debug, hbd.stderr), or "" when there is none."""
        try:
            return (self.lab.path(node, "/var/log/hbd") / name).read_text(errors="replace")
        except OSError:
            return ""

    def service_fault(self, node: str, op: str, on: bool = True) -> None:
        """Make the service's `op` (start or stop) fail on `node` until turned off again."""
        switch = f"{SERVICE_STATE}.fail-{op}"
        self.lab.exec(node, ["touch", switch] if on else ["rm", "-f", switch])

    def service_running(self, node: str) -> bool:
        # /dev/shm: private to the node, shared with Heartbeat's own mount namespace, emptied by a reboot
        return self.lab.exec(node, ["test", "-e", SERVICE_STATE], check=False).returncode == 0

    # --- daemons --------------------------------------------------------------------------------

    def start(self, node: str, extra: list[str] | None = None) -> subprocess.Popen[Any]:
        with open(self.lab.path(node, "/var/log/hbd") / "hbd.stderr", "ab") as err:
            proc = self.lab.spawn(node, [sys.executable, "-m", "hbd.cli.main", "-f", "--node", node, *(extra or [])],
                                  stdout=err, stderr=subprocess.STDOUT)
        self.procs[node] = proc
        return proc

    def running(self, node: str) -> bool:
        proc = self.procs.get(node)
        return proc is not None and proc.poll() is None

    def stop(self, node: str, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """Graceful stop (SIGTERM); SIGKILL after `timeout`. The exit code, None if it was not running."""
        proc = self.procs.pop(node, None)
        if proc is None or proc.poll() is not None:
            return None if proc is None else proc.returncode
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
            raise LabError(f"hbd on {node} did not stop within {timeout} s\n{self.log(node)[-3000:]}") from None

    def kill9(self, node: str) -> None:
        self.lab.kill(node, "hbd", signal.SIGKILL)
        proc = self.procs.pop(node, None)
        if proc is not None:
            proc.wait(timeout=5)

    def power_off(self, node: str) -> None:
        """Cut the node's power: its daemon dies with everything else that lived in memory."""
        self.lab.power_off(node)
        self.forget(node)

    def forget(self, node: str) -> None:
        """The node lost power: its daemon is gone with it."""
        proc = self.procs.pop(node, None)
        if proc is not None:
            proc.wait(timeout=5)

    def close(self) -> None:
        for node in list(self.procs):
            try:
                self.stop(node, timeout=10)
            except LabError:
                pass

    # --- asking the daemons ---------------------------------------------------------------------

    def cli(self, node: str, argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess[Any]:
        return self.lab.exec(node, argv, check=False, timeout=timeout)

    def status(self, node: str) -> dict[str, Any] | None:
        done = self.cli(node, ["hbd", "status", "--json"], timeout=10)
        if done.returncode != 0:
            return None
        return json.loads(done.stdout)  # type: ignore[no-any-return]

    def wait_status(self, node: str, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            last = self.status(node)
            if last is not None and predicate(last):
                return last
            if node in self.procs and self.procs[node].poll() is not None:
                break
            time.sleep(0.1)
        if last is None and self.running(node):
            self.lab.kill(node, "hbd", signal.SIGUSR2)  # the daemon prints every thread's stack on stderr
            time.sleep(0.5)
        raise LabError(f"{node}: status condition not met within {timeout} s; last status {last}\n"
                       f"log:\n{self.log(node)[-4000:]}\nstderr:\n{self.stderr(node)[-6000:]}")

    def wait_configured_deadtime(self, observer: str, peer: str, timeout: float = 15) -> None:
        """Wait until `observer` judges `peer` by the configured deadtime: for their first 5 s daemons
        advertise deadtime + 2 s (heartbeat.md §11.14)."""
        wanted = self.settings.deadtime_ms
        self.wait_status(observer, lambda st: any(n["name"] == peer and n["deadtime_ms"] == wanted
                                                  for n in st["nodes"]), timeout)

    def owner(self, st: dict[str, Any]) -> str | None:
        return next((g["owner"] for g in st["groups"] if g["key"] == self.settings.group), None)

    def wait_owner(self, owner: str, timeout: float, ask: str | None = None) -> dict[str, Any]:
        """Wait until `ask` (default: the owner) reports `owner` running the group, and stable."""
        return self.wait_status(ask or owner, lambda st: self.owner(st) == owner and st["stable"]
                                and all(g["state"] in ("running", "stopped") for g in st["groups"]), timeout)
