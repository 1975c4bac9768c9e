"""Node machinery: a holder process per node keeps its mount and UTS namespaces; commands enter them.

A node is a network namespace (made by topology), plus a mount namespace where the node's private
directories are bind-mounted at the standard paths and /dev is a small private tmpfs holding /dev/drbd0,
plus a UTS namespace whose hostname is the node name, plus a cgroup holding all of its processes.
"""
from __future__ import annotations

import os
import select
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any
from pathlib import Path

from hbd.errors import LabError
from hbd.lab.cgroups import NodeCgroup
from hbd.lab.drbd_device import UNAVAILABLE_RDEV
from hbd.lab.layout import NODE_DIRS, LabLayout
from hbd.lab.netns import netns_path

READY_TIMEOUT = 10.0
# Character devices every program expects: (name, major, minor).
CHAR_DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0))
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def node_setup_script(layout: LabLayout, node: str, drbd_rdev: tuple[int, int] | None) -> str:
    """Shell run inside the node's fresh mount+UTS namespace; ends by becoming the holder (sleep)."""
    q = shlex.quote
    dev = layout.node_dir(node) / "dev"
    lines = [
        "set -e",
        f"hostname {q(node)}",
        # sysfs as seen from the node's network namespace (like `ip netns exec` does)
        "umount -l /sys && mount -t sysfs sysfs /sys",
        # The copy of the host's /run/netns would hold a reference to every lab's namespaces and keep
        # them alive after their `ip netns delete`, until this node goes away.
        "if [ -d /run/netns ]; then umount -l /run/netns 2>/dev/null || true; fi",
    ]
    for target in NODE_DIRS:
        lines.append(f"mount --bind {q(str(layout.path(node, target)))} {q(target)}")
    lines += [
        f"mount -t tmpfs -o mode=0755,size=1m hbd-lab-dev {q(str(dev))}",
        f"cd {q(str(dev))}",
    ]
    for name, major, minor in CHAR_DEVICES:
        lines.append(f"mknod -m 666 {name} c {major} {minor}")
    lines += [
        "mkdir pts shm && mount --rbind /dev/pts pts && mount -t tmpfs -o mode=1777 shm shm",
        "ln -s pts/ptmx ptmx && ln -s /proc/self/fd fd",
        "ln -s /proc/self/fd/0 stdin && ln -s /proc/self/fd/1 stdout && ln -s /proc/self/fd/2 stderr",
        "if [ -S /dev/log ]; then touch log && mount --bind /dev/log log; fi",
    ]
    if drbd_rdev is not None:
        # A node boots Secondary: its /dev/drbd0 exists but cannot be opened until `drbdadm primary`
        # points it at the shared disk (hbd/lab/drbd_device.py), as real DRBD refuses to open a Secondary.
        lines.append(f"mknod -m 660 drbd0 b {UNAVAILABLE_RDEV[0]} {UNAVAILABLE_RDEV[1]}")
    lines += [
        "cd /",
        f"mount --move {q(str(dev))} /dev",
        "echo ready",
        "exec sleep infinity </dev/null >/dev/null 2>&1",
    ]
    return "\n".join(lines)


def prepare_dirs(layout: LabLayout, node: str) -> None:
    for target in NODE_DIRS:
        layout.path(node, target).mkdir(parents=True, exist_ok=True)
        # The bind mount needs a mount point; when the host lacks one we add the empty directory.
        Path(target).mkdir(parents=True, exist_ok=True)
    (layout.node_dir(node) / "dev").mkdir(parents=True, exist_ok=True)


def start_holder(layout: LabLayout, node: str, cgroup: NodeCgroup, drbd_rdev: tuple[int, int] | None) -> subprocess.Popen[Any]:
    """Start (not wait for) the holder of `node`; `wait_ready` completes it."""
    argv = [
        "nsenter", f"--net={netns_path(layout.netns(node))}", "--",
        "unshare", "--mount", "--uts", "--propagation", "private", "--",
        "/bin/sh", "-c", node_setup_script(layout, node, drbd_rdev),
    ]
    return subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        cwd="/", preexec_fn=cgroup.join_self, start_new_session=True, env={"PATH": SYSTEM_PATH},
    )


def wait_ready(proc: subprocess.Popen[Any], what: str, timeout: float = READY_TIMEOUT) -> None:
    """Wait (bounded) for the line `ready` on proc's stdout, then stop reading it."""
    assert proc.stdout is not None and proc.stderr is not None
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            proc.kill()
            raise LabError(f"{what}: not ready after {timeout:g} s")
        readable, _, _ = select.select([proc.stdout], [], [], left)
        if readable:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                proc.wait(timeout=timeout)
                err = proc.stderr.read().decode(errors="replace").strip()
                raise LabError(f"{what}: failed to start (exit {proc.returncode}): {err}")
            buf += chunk
    proc.stdout.close()
    proc.stderr.close()


def enter_argv(layout: LabLayout, node: str, holder_pid: int, argv: Sequence[str]) -> list[str]:
    return [
        "nsenter", f"--net={netns_path(layout.netns(node))}",
        f"--mount=/proc/{holder_pid}/ns/mnt", f"--uts=/proc/{holder_pid}/ns/uts", "--wd=/", "--", *argv,
    ]


def client_argv(layout: LabLayout, argv: Sequence[str]) -> list[str]:
    return ["nsenter", f"--net={netns_path(layout.client_netns)}", "--", *argv]


def base_env(layout: LabLayout, node: str | None, extra: Mapping[str, str] | None) -> dict[str, str]:
    """Environment of lab commands: lab bin (drbdadm emulator) first on PATH, then hbd's own bin dir."""
    env = {
        "PATH": f"{layout.bin_dir}:{Path(sys.executable).parent}:{SYSTEM_PATH}",
        "HBD_LAB": layout.name,
        "HBD_LAB_DIR": str(layout.dir.parent),
        "LANG": "C.UTF-8",
        "HOME": "/root",
    }
    if node is not None:
        env["HBD_LAB_NODE"] = node
    if extra:
        env.update(extra)
    return env
