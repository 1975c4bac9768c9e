"""The watchdog paths in the lab: a frozen daemon (SIGSTOP) stops both its systemd watchdog pings
(WATCHDOG=1 over NOTIFY_SOCKET) and the kicks of ha.cf's `watchdog` device; small harnesses stand in for
systemd and for the kernel's softdog (never loaded here: it would reset this machine), see them stop, and
"reset" the node with the lab's power-off; the survivor then takes over. A clean stop writes the magic `V`."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from daemon_lab import FAST, lab_cluster
from hbd.lab.hbd_cluster import HbdCluster
from hbd.lab.probes import VipProbe

WATCHDOG_USEC = 2_000_000  # systemd's WatchdogSec=2
DEVICE = "/var/lib/hbd/watchdog"  # a plain file stands in for /dev/watchdog: every write is a kick


class Harness:
    """Records systemd pings from a datagram socket and kicks as the device file grows."""

    def __init__(self, notify_socket: Path, device: Path):
        self.device = device
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(notify_socket))
        self.sock.settimeout(0.1)
        self.pings: list[float] = []
        self.kicks: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        size = self.device.stat().st_size
        while not self._stop.is_set():
            try:
                if b"WATCHDOG=1" in self.sock.recv(4096):
                    self.pings.append(time.monotonic())
            except (socket.timeout, OSError):
                pass
            now = self.device.stat().st_size if self.device.exists() else size
            if now > size:
                self.kicks.append(time.monotonic())
                size = now

    def __enter__(self) -> "Harness":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def fired(self, since: float, timeout_s: float) -> tuple[bool, bool]:
        """(systemd would act, the device would fire): nothing for timeout_s after `since`."""
        now = time.monotonic()
        last_ping = max(self.pings, default=since)
        last_kick = max(self.kicks, default=since)
        return now - max(last_ping, since) > timeout_s, now - max(last_kick, since) > timeout_s


def start_with_systemd_watchdog(cluster: HbdCluster, node: str) -> None:
    """As HbdCluster.start, with the environment systemd gives a Type=notify service with WatchdogSec."""
    env = {"NOTIFY_SOCKET": "/run/hbd/notify.sock", "WATCHDOG_USEC": str(WATCHDOG_USEC)}
    with open(cluster.lab.path(node, "/var/log/hbd") / "hbd.stderr", "ab") as err:
        cluster.procs[node] = cluster.lab.spawn(node, [sys.executable, "-m", "hbd.cli.main", "-f", "--node", node],
                                                env=env, stdout=err, stderr=subprocess.STDOUT)


def test_a_frozen_daemon_stops_both_watchdogs_and_a_clean_stop_disarms(capsys: pytest.CaptureFixture[str]) -> None:
    with lab_cluster() as cluster:
        lab = cluster.lab
        cluster.write_config(hacf_extra=f"watchdog {DEVICE}\n")
        for node in lab.nodes:
            (lab.path(node, "/var/lib/hbd") / "watchdog").touch()
        device = lab.path("n1", "/var/lib/hbd") / "watchdog"
        with Harness(lab.path("n1", "/run/hbd") / "notify.sock", device) as harness:
            start_with_systemd_watchdog(cluster, "n1")
            cluster.start("n2")
            cluster.wait_owner("n1", timeout=20)
            cluster.wait_owner("n1", timeout=10, ask="n2")
            probe = VipProbe(lab, cluster.settings.vip, interval=0.02).start()
            try:
                deadline = time.monotonic() + 10
                while (len(harness.pings) < 3 or len(harness.kicks) < 5) and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert len(harness.pings) >= 3 and len(harness.kicks) >= 5, (harness.pings, harness.kicks)
                assert "Watchdog device /var/lib/hbd/watchdog armed" in cluster.log("n1")
                lab.kill("n1", "hbd", signal.SIGSTOP)
                frozen = time.monotonic()
                timeout_s = WATCHDOG_USEC / 1e6  # the device's: ceil((deadtime 1000 ms + 10 ms) / 1 s) = 2 s
                fired = (False, False)
                while not all(fired) and time.monotonic() < frozen + 3 * timeout_s:
                    time.sleep(0.05)
                    fired = harness.fired(frozen, timeout_s)
                assert fired == (True, True), (fired, harness.pings[-3:], harness.kicks[-3:], frozen)
                detected = time.monotonic() - frozen
                lab.power_off("n1")  # what the watchdog does to the node
                # n2 declared n1 dead after deadtime (1 s), before the watchdog's 2 s: its takeover found the
                # VIP still answering from the frozen node and failed; it is tried again after 30 s
                assert probe.wait_for("n2", 45), probe.transitions
            finally:
                probe.stop()
        cluster.forget("n1")
        n2_device = lab.path("n2", "/var/lib/hbd") / "watchdog"
        assert n2_device.read_bytes()[-1:] == b"\0"
        assert cluster.stop("n2") == 0
        assert n2_device.read_bytes()[-1:] == b"V"  # disarmed by the magic close
        with capsys.disabled():
            print(f"\nwatchdog: a frozen daemon's pings and kicks missing for {timeout_s:g} s, seen "
                  f"{detected:.2f} s after SIGSTOP (keepalive {FAST.keepalive_ms} ms)")
