"""Run Python code inside a named network namespace from a thread of this process (setns is per thread)."""
from __future__ import annotations

import ctypes
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hbd.errors import LabError

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
NETNS_RUN = Path("/run/netns")
_libc = ctypes.CDLL(None, use_errno=True)


def netns_path(name: str) -> Path:
    return NETNS_RUN / name


def enter(name: str) -> None:
    """Move the calling thread into network namespace `name` (only threads made for this purpose)."""
    fd = os.open(netns_path(name), os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise LabError(f"setns({name}): {os.strerror(err)}")
    finally:
        os.close(fd)


def call_in(name: str, fn: Callable[[], T], timeout: float = 10.0) -> T:
    """Call fn() in a throw-away thread that lives in namespace `name`; sockets it makes stay there."""
    box: dict[str, object] = {}

    def body() -> None:
        try:
            enter(name)
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=body, name=f"netns-{name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise LabError(f"call in netns {name}: no result after {timeout:g} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def socket_in(name: str, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM, proto: int = 0) -> socket.socket:
    return call_in(name, lambda: socket.socket(family, type, proto))


def write_sysctl(name: str, key: str, value: str) -> None:
    """Set a per-namespace net sysctl (/proc/sys/net is resolved against the writing thread's netns)."""
    path = "/proc/sys/" + key.replace(".", "/")

    def write() -> None:
        with open(path, "w") as fh:
            fh.write(value)

    call_in(name, write)
