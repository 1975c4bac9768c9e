"""Keeping both watchdogs fed from the event loop: systemd's (WatchdogSec=, notify.py) and ha.cf's
`watchdog DEVICE` (watchdog_device.py).

Both are kicked by timers of the loop that sends the heartbeats, so a stuck or frozen daemon stops the kicks
and is caught; neither kick depends on anything else going well.
"""
from __future__ import annotations

import asyncio
import logging

from hbd.config.model import HaCf
from hbd.runtime.logsetup import log_hb
from hbd.runtime.notify import Notifier
from hbd.runtime.watchdog_device import WatchdogDevice, timeout_for

LOG = logging.getLogger("hbd.daemon")  # the daemon's lines


def notify_watchdog(notifier: Notifier, loop: asyncio.AbstractEventLoop, every_s: float) -> None:
    """WATCHDOG=1 now and every `every_s` (half of WATCHDOG_USEC) for as long as the loop runs."""
    notifier.watchdog()
    loop.call_later(every_s, notify_watchdog, notifier, loop, every_s)


def open_watchdog_device(hacf: HaCf, loop: asyncio.AbstractEventLoop) -> WatchdogDevice | None:
    """ha.cf `watchdog DEVICE`: armed now, kicked every keepalive from this loop; None when not configured or
    when it cannot be opened (logged: the daemon goes on, as Heartbeat does)."""
    paths = [d.value for d in hacf.directives if d.name == "watchdog"]
    if not paths:
        return None
    device = WatchdogDevice(paths[-1], timeout_for(hacf.timing.deadtime_ms))
    for level, text in device.open():
        log_hb(LOG, level, text)
    if device.fd is None:
        return None
    every_s = hacf.timing.keepalive_ms / 1000

    def kick() -> None:
        if device.fd is not None:
            device.kick()
            loop.call_later(every_s, kick)
    loop.call_later(every_s, kick)
    return device
