"""The daemon's process: a pid lock so that two daemons never run, its name, realtime priority, mlockall.

The lock is an flock on the pidfile: the kernel drops it when the process dies, even after kill -9, so a
stale pidfile never blocks a restart and a live daemon always blocks a second one.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import gc
import os
import sys
import threading
from pathlib import Path
from typing import Callable

from hbd.errors import HbdError

DEFAULT_PIDFILE = Path("/run/hbd/hbd.pid")
PR_SET_NAME = 15
MCL_CURRENT, MCL_FUTURE = 1, 2
MCL_ONFAULT = 4  # Linux >= 4.4: lock pages as they are first touched, not every mapped page at once
RT_PRIORITY = 1  # above every normal task, below the kernel's and watchdog threads
SWITCH_INTERVAL_S = 0.001  # a thread holding the GIL (a worker's Python code) hands it over after 1 ms, not 5


class AlreadyRunning(HbdError):
    """Another hbd holds the lock."""


class PidLock:
    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise AlreadyRunning(f"hbd is already running (pid {other or '?'}, lock {self.path})") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd

    def rewrite(self) -> None:
        """After daemonizing: the pid changed."""
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self.fd is not None:
            try:
                self.path.unlink()
            except OSError:
                pass
            os.close(self.fd)
            self.fd = None


def read_pid(path: Path) -> int | None:
    """The pid of the daemon holding the lock, or None when no daemon holds it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 32).decode(errors="replace").strip()
            return int(text) if text.isdigit() else None
        return None  # nobody holds it: a leftover file
    finally:
        os.close(fd)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def set_process_name(name: str = "hbd") -> None:
    """The kernel's name of this process (ps -o comm, pkill, lab.kill), whatever interpreter runs it."""
    try:
        _libc().prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _rt_policy() -> tuple[int, "os.sched_param"]:
    return os.SCHED_RR | getattr(os, "SCHED_RESET_ON_FORK", 0), os.sched_param(RT_PRIORITY)


def _threads() -> list[int]:
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return [0]  # no /proc: this thread only


def _realtime_thread_start(frame: object, event: str, arg: object) -> None:
    """threading's profile hook, run once at the start of every thread it starts: SCHED_RESET_ON_FORK
    resets the policy of every new task, threads included, so each thread sets its own."""
    sys.setprofile(None)
    try:
        os.sched_setscheduler(0, *_rt_policy())
    except OSError:
        pass


def go_realtime() -> list[tuple[str, str]]:
    """Best effort: SCHED_RR for every thread of the daemon, now and later (children reset to normal), and
    mlockall. Returns (level, text) lines to log.

    Every thread, not only the loop's: a thread holding the GIL must run to hand it over, and a normal
    thread (the log writer, the group worker, the pre-probe) preempted by a CPU hog would keep the loop's
    realtime thread waiting for the GIL as long as the kernel's fair scheduler keeps it off the CPU."""
    notes: list[tuple[str, str]] = []
    try:
        os.sched_setscheduler(0, *_rt_policy())
        for tid in _threads():
            try:
                os.sched_setscheduler(tid, *_rt_policy())
            except ProcessLookupError:
                pass  # the thread ended meanwhile
        threading.setprofile(_realtime_thread_start)
        notes.append(("info", f"realtime scheduling: SCHED_RR priority {RT_PRIORITY}"))
    except (OSError, AttributeError) as exc:
        notes.append(("WARN", f"realtime scheduling not available: {exc}"))
    notes.append(lock_memory(_libc().mlockall, ctypes.get_errno))
    return notes


def lock_memory(mlockall: Callable[[int], int], get_errno: Callable[[], int]) -> tuple[str, str]:
    """mlockall with MCL_ONFAULT: without it every mapped page (the whole of each shared library and
    thread stack, used or not) is made resident at once: 55-58 MB per daemon instead of 38. A page is
    locked once touched, so the heartbeat path, having run, never faults. Kernels before 4.4 refuse the
    flag with EINVAL: then all pages, as before."""
    if mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) == 0:
        return ("info", "memory locked (mlockall, on fault)")
    err = get_errno()
    if err == errno.EINVAL and mlockall(MCL_CURRENT | MCL_FUTURE) == 0:
        return ("info", "memory locked (mlockall)")
    if err == errno.EINVAL:
        err = get_errno()
    return ("WARN", f"mlockall failed: {os.strerror(err)}")


def tune_for_heartbeats() -> None:
    """Keep the heartbeat loop's pauses short: once start-up is done, freeze what exists into the GC's
    permanent generation (a full collection then scans only what was made since, milliseconds instead of
    tens of them with scapy and pyroute2 loaded), and make other threads yield the GIL sooner."""
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
