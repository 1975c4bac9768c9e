"""Wait, bounded, for a device node to appear, woken by kernel uevents (pyudev) instead of sleeping blind."""
from __future__ import annotations

import os
import time
from typing import Callable

import pyudev

POLL_S = 0.05  # a node can appear without an event we see (devtmpfs races the monitor): look again this often


def wait_for_device(path: str, timeout_s: float, clock: Callable[[], float] = time.monotonic) -> float | None:
    """Seconds waited until path exists (0.0 if at once), or None when timeout_s passed without it."""
    if os.path.exists(path):
        return 0.0
    begin = clock()
    monitor = None
    try:
        monitor = pyudev.Monitor.from_netlink(pyudev.Context(), source="kernel")
        monitor.filter_by("block")
        monitor.start()
    except (OSError, ValueError):
        monitor = None  # no uevent socket here (unprivileged or restricted): plain bounded polling
    try:
        for _ in range(100_000):  # bounded by count too: a flood of uevents returns poll() early
            left = begin + timeout_s - clock()
            if os.path.exists(path):
                return clock() - begin
            if left <= 0:
                return None
            if monitor is not None:
                monitor.poll(timeout=min(POLL_S, left))
            else:
                time.sleep(min(POLL_S, left))
        return clock() - begin if os.path.exists(path) else None
    finally:
        if monitor is not None:
            # pyudev has no close(); dropping the monitor closes its socket.
            del monitor
