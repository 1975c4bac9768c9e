"""systemd notification (sd_notify): READY=1 once resources are settled, STATUS= lines, WATCHDOG=1 pings.

Without NOTIFY_SOCKET (not started by systemd with Type=notify) every call does nothing. The watchdog
interval comes from WATCHDOG_USEC; hbd pings at half of it from the event loop, so a stuck loop (the one
that sends heartbeats) is what the watchdog catches.
"""
from __future__ import annotations

import os
from typing import Mapping

import sdnotify


def watchdog_interval_s(env: Mapping[str, str] | None = None) -> float | None:
    """Half of WATCHDOG_USEC in seconds, when the watchdog is on for this process; else None."""
    env = os.environ if env is None else env
    usec = env.get("WATCHDOG_USEC")
    pid = env.get("WATCHDOG_PID")
    if not usec or not usec.isdigit() or int(usec) <= 0:
        return None
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    return int(usec) / 2_000_000


class Notifier:
    def __init__(self, env: Mapping[str, str] | None = None):
        env = os.environ if env is None else env
        self.enabled = bool(env.get("NOTIFY_SOCKET"))
        self._notifier = sdnotify.SystemdNotifier() if self.enabled else None
        self.ready_sent = False
        self.last_status = ""

    def _send(self, text: str) -> None:
        if self._notifier is not None:
            self._notifier.notify(text)

    def ready(self, status: str) -> None:
        if not self.ready_sent:
            self.ready_sent = True
            self.last_status = status
            self._send(f"READY=1\nSTATUS={status}")

    def status(self, text: str) -> None:
        if text != self.last_status:
            self.last_status = text
            self._send(f"STATUS={text}")

    def watchdog(self) -> None:
        self._send("WATCHDOG=1")

    def stopping(self) -> None:
        self._send("STOPPING=1")
