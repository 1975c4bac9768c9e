"""Which processes keep a filesystem busy, and ending them TERM then KILL, bounded.

A process holds a filesystem when its cwd, root, executable, an open file or a mapped file lives on
the filesystem's device; this is what `fuser -m` reports, read from /proc by device number so that it
works the same in any mount namespace.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Callable


def maps_devices(text: str) -> set[int]:
    """Device numbers of the files mapped in a /proc/PID/maps text (`08:01` in the 4th column)."""
    devs = set()
    for line in text.splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) >= 6 and parts[4] != "0":
            major, minor = parts[3].split(":")
            devs.add(os.makedev(int(major, 16), int(minor, 16)))
    return devs


def _holds(pid_dir: Path, dev: int) -> bool:
    for link in ("cwd", "root", "exe"):
        try:
            if os.stat(pid_dir / link).st_dev == dev:
                return True
        except OSError:
            pass
    try:
        fds = list((pid_dir / "fd").iterdir())
    except OSError:
        fds = []
    for fd in fds:
        try:
            if os.stat(fd).st_dev == dev:
                return True
        except OSError:
            pass
    try:
        return dev in maps_devices((pid_dir / "maps").read_text())
    except OSError:
        return False


def holders(dev: int, proc: Path = Path("/proc")) -> list[int]:
    """PIDs of processes using the filesystem on device `dev`, never this process."""
    me = os.getpid()
    found = []
    for entry in proc.iterdir():
        if entry.name.isdigit() and int(entry.name) != me and _holds(entry, dev):
            found.append(int(entry.name))
    return sorted(found)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has released its files: count it as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def end(pids: list[int], sig: signal.Signals, wait_s: float,
        clock: Callable[[], float] = time.monotonic) -> list[int]:
    """Send sig to pids, wait up to wait_s for them to exit; return those still alive."""
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    end_at = clock() + wait_s
    left = [p for p in pids if _alive(p)]
    while left and clock() < end_at:
        time.sleep(0.02)
        left = [p for p in left if _alive(p)]
    return left
