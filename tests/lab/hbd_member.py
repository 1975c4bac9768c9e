"""Run `hbd membership` in lab nodes and watch its event stream (JSON lines with monotonic timestamps)."""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from hbd.core.membership import STARTUP_DT_S
from hbd.lab import Lab

AUTHKEYS = "auth 1\n1 sha1 0bd6a3b1c2d4e5f6\n"


def hacf_text(lab: Lab, kind: str, keepalive_ms: int = 200, deadtime_ms: int = 2000,
              initdead_ms: int = 4000) -> str:
    """An ha.cf shared by every node: two media of `kind` (bcast, mcast or ucast to every node)."""
    lines = [f"keepalive {keepalive_ms}ms", f"deadtime {deadtime_ms}ms", f"warntime {deadtime_ms // 2}ms",
             f"initdead {initdead_ms}ms", "udpport 694", "auto_failback on", "logfacility none",
             f"node {' '.join(lab.nodes)}"]
    interfaces = [f"eth{m}" for m in range(lab.media)]
    if kind == "bcast":
        lines.append("bcast " + " ".join(interfaces))
    elif kind == "mcast":
        lines += [f"mcast {iface} 239.0.{m}.1 694 1 0" for m, iface in enumerate(interfaces)]
    elif kind == "ucast":
        # the same file on every node: the line naming the node itself is receive-only
        lines += [f"ucast {iface} {lab.address(node, m)}" for m, iface in enumerate(interfaces) for node in lab.nodes]
    else:
        raise ValueError(kind)
    return "\n".join(lines) + "\n"


def write_config(lab: Lab, node: str, hacf: str, authkeys: str = AUTHKEYS) -> Path:
    ha_d = lab.path(node, "/etc/ha.d")
    (ha_d / "ha.cf").write_text(hacf)
    (ha_d / "authkeys").write_text(authkeys)
    os.chmod(ha_d / "authkeys", 0o600)
    (ha_d / "haresources").write_text("")
    return ha_d


@dataclass
class Member:
    """One `hbd membership --events` process and everything it printed, read by a thread."""

    node: str
    proc: subprocess.Popen
    logfile: Path
    events: "queue.Queue[dict[str, Any]]" = field(default_factory=queue.Queue)
    seen: list[dict[str, Any]] = field(default_factory=list)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if "event" in record:
                    self.events.put(record)

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        """The first event (already seen or new) matching predicate; AssertionError after timeout."""
        for record in self.seen:
            if predicate(record):
                return record
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.node}: no matching event within {timeout} s; seen {self.seen[-12:]}"
                                     f"\nlog:\n{self.log()[-3000:]}")
            try:
                record = self.events.get(timeout=min(left, 0.5))
            except queue.Empty:
                if self.proc.poll() is not None:
                    raise AssertionError(f"{self.node}: hbd membership exited rc={self.proc.returncode}\n"
                                         f"{self.log()[-3000:]}") from None
                continue
            self.seen.append(record)
            if predicate(record):
                return record

    def drain(self) -> list[dict[str, Any]]:
        while True:
            try:
                self.seen.append(self.events.get_nowait())
            except queue.Empty:
                return self.seen

    def log(self) -> str:
        try:
            return self.logfile.read_text()
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def start_member(lab: Lab, node: str, extra: list[str] | None = None) -> Member:
    logfile = lab.path(node, "/var/lib/hbd") / "membership.log"
    proc = lab.spawn(node, [sys.executable, "-m", "hbd.cli.main", "membership", "-c", "/etc/ha.d", "--node", node,
                            "--events", "--logfile", "/var/lib/hbd/membership.log", *(extra or [])],
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    member = Member(node, proc, logfile)
    threading.Thread(target=member._read, daemon=True).start()
    return member


def is_node(node: str, status: str) -> Callable[[dict[str, Any]], bool]:
    return lambda r: r["event"] == "NodeChanged" and r["node"] == node and r["status"] == status


def is_link(node: str, link: str, up: bool) -> Callable[[dict[str, Any]], bool]:
    return lambda r: r["event"] == "LinkChanged" and r["node"] == node and r["link"] == link and r["up"] == up


def wait_out_startup_dt(started: float) -> None:
    """Heartbeat and hbd advertise deadtime + 2 s for their first 5 s: wait until a node started at the
    monotonic time `started` advertises its configured deadtime (at most 6 s; the condition is time)."""
    time.sleep(max(0.0, started + STARTUP_DT_S + 1.0 - time.monotonic()))
