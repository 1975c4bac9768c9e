"""Invariant watchers a test runs in the background: VIP on one node, fs mounted once, one Primary."""
from __future__ import annotations

import errno
import os
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hbd.errors import LabError
from hbd.lab import drbd_state, netns
from hbd.lab.background import BackgroundLoop
from hbd.lab.drbd_setup import replication_medium

if TYPE_CHECKING:
    from hbd.lab.lab import Lab

MAX_SECONDS = 3600.0


class InvariantViolation(LabError, AssertionError):
    """An invariant of the cluster was broken; the message says when and where."""


@dataclass(frozen=True)
class Violation:
    t: float  # time.monotonic() when first seen
    wall: str
    kind: str
    nodes: tuple[str, ...]
    detail: str

    def describe(self, t0: float) -> str:
        return f"{self.wall} (+{self.t - t0:.3f} s) {self.kind} on {', '.join(self.nodes)}: {self.detail}"


class InvariantWatcher(BackgroundLoop):
    """Polls every `interval` s; each violation is recorded once when it starts. `.check()` raises."""

    thread_name = "invariant-watcher"

    def __init__(self, lab: "Lab", vip: str | None = None, mountpoint: str | None = None,
                 drbd: str | None = "r0", interval: float = 0.05, max_seconds: float = MAX_SECONDS):
        super().__init__()
        self.lab, self.vip, self.mountpoint, self.drbd = lab, vip, mountpoint, drbd
        self.interval, self.max_seconds = interval, max_seconds
        self.violations: list[Violation] = []
        self.polls = 0
        self._active: set[str] = set()
        self._t0 = time.monotonic()

    def start(self) -> "InvariantWatcher":
        self._t0 = time.monotonic()
        return super().start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if not exc or exc[0] is None:
            self.check()

    def check(self) -> None:
        with self._lock:
            found = list(self.violations)
        if found:
            raise InvariantViolation("invariant violated:\n  " + "\n  ".join(v.describe(self._t0) for v in found))

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            self.poll()
            self._stop.wait(self.interval)

    # ---- one look
    def poll(self) -> None:
        seen: dict[str, tuple[tuple[str, ...], str]] = {}
        live = [n for n in self.lab.nodes if n not in self.lab.state["powered_off"]]
        if self.vip:
            holders = tuple(n for n in live if self._has_address(n, self.vip))
            if len(holders) > 1:
                seen["VIP configured twice"] = (holders, f"{self.vip} is configured on {len(holders)} nodes")
        mounted = tuple(n for n in live if self._mounted(n))
        if len(mounted) > 1:
            what = self.mountpoint or self.lab.drbd_device
            seen["filesystem mounted twice"] = (mounted, f"{what} mounted in {len(mounted)} nodes")
        if self.drbd:
            primaries = self._connected_primaries()
            if len(primaries) > 1:
                seen["two Primaries while connected"] = (primaries, f"DRBD {self.drbd} Primary on both, connected")
        now = time.monotonic()
        with self._lock:
            self.polls += 1
            for kind, (nodes, detail) in seen.items():
                if kind not in self._active:
                    self.violations.append(Violation(now, time.strftime("%H:%M:%S"), kind, nodes, detail))
            self._active = set(seen)

    def _has_address(self, node: str, address: str) -> bool:
        def probe() -> bool:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                try:
                    sock.bind((address, 0))  # binds only to an address the node has
                    return True
                except OSError as exc:
                    if exc.errno == errno.EADDRNOTAVAIL:
                        return False
                    raise

        return netns.call_in(self.lab.netns(node), probe)

    def _mounted(self, node: str) -> bool:
        pid = self.lab.state["holders"].get(node)
        if pid is None:
            return False
        # any of the data's images: after a fork (hbd/lab/drbd_images.py) each side mounts its own
        dev_ids = {f"{os.major(r)}:{os.minor(r)}" for r in (os.stat(loop).st_rdev for loop in self.lab.data_loops)}
        try:
            with open(f"/proc/{pid}/mountinfo") as fh:
                for line in fh:
                    fields = line.split()
                    if fields[2] in dev_ids and (self.mountpoint is None or fields[4] == self.mountpoint):
                        return True
        except OSError:
            return False  # node went down between the look at its state and the read
        return False

    def _connected_primaries(self) -> tuple[str, ...]:
        try:
            res = drbd_state.ResourceStore(self.lab.layout.drbd_dir, self.drbd or "").read()
        except LabError:
            return ()
        repl = replication_medium(self.lab.layout)
        link_ok = not any(f"{n}:{repl}" in self.lab.state["cuts"] for n in res.nodes)
        return tuple(
            n for n, node in res.nodes.items()
            if node.role == "Primary" and drbd_state.cstate(res, n, link_ok) == drbd_state.CONNECTED
        )
