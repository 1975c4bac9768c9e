"""ha.cf's `watchdog DEVICE`: a hung daemon gets its node reset by the kernel's watchdog (softdog or a
hardware one), as Heartbeat does.

Opened at start with its timeout set to ceil((deadtime + 10 ms) / 1 s) (Heartbeat's rule), kicked from
the event loop every keepalive, closed with the magic `V` on a clean exit so that stopping hbd does not
reset the node. Heartbeat kicks when it receives its own heartbeat; hbd kicks from the loop that sends
the heartbeats, so a frozen or stuck daemon stops the kicks (losing its own heartbeat already makes hbd
release its groups and restart). A device that cannot be opened is logged and the daemon goes on, as
Heartbeat does: the watchdog is a last resort, not a condition to run.
"""
from __future__ import annotations

import errno
import fcntl
import math
import os
import struct
from dataclasses import dataclass

WDIOC_KEEPALIVE = 0x80045705  # _IOR('W', 5, int)
WDIOC_SETTIMEOUT = 0xC0045706  # _IOWR('W', 6, int)
MAGIC_CLOSE = b"V"


def timeout_for(deadtime_ms: int) -> int:
    return max(1, math.ceil((deadtime_ms + 10) / 1000))


@dataclass
class WatchdogDevice:
    path: str
    timeout_s: int
    fd: int | None = None
    kicks: int = 0

    def open(self) -> list[tuple[str, str]]:
        """Open and arm the device; (level, text) lines for the log."""
        try:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_CLOEXEC)
        except OSError as exc:
            return [("ERROR", f"Cannot open watchdog device: {self.path} ({exc.strerror or exc})")]
        try:
            fcntl.ioctl(self.fd, WDIOC_SETTIMEOUT, struct.pack("i", self.timeout_s))
            armed = f"timeout {self.timeout_s} s"
        except OSError as exc:
            if exc.errno not in (errno.ENOTTY, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            armed = f"its own timeout (it refused {self.timeout_s} s: {exc.strerror})"
        self.kick()
        return [("info", f"Watchdog device {self.path} armed: {armed}; kicked every keepalive")]

    def kick(self) -> None:
        if self.fd is not None:
            os.write(self.fd, b"\0")
            self.kicks += 1

    def close(self) -> None:
        """The magic close: the watchdog is disarmed (unless the driver was loaded with nowayout)."""
        if self.fd is not None:
            try:
                os.write(self.fd, MAGIC_CLOSE)
            finally:
                os.close(self.fd)
                self.fd = None
