"""The node's /dev/drbdN follows the emulated role: the shared disk while Primary, unopenable while Secondary.

Real DRBD refuses to open a Secondary (8.4: EMEDIUMTYPE for a read-only open, EROFS for a writable one),
so nothing can mount it read-write, or at all, on the node that is not Primary. The lab has no DRBD
module; the emulator gets the same effect by pointing the node's device node at its data's loop device
(the shared one, or its own once the data forked: drbd_images.py) only while the node is Primary, and at an unregistered block device (0:0, every open fails with ENXIO,
"No such device or address") otherwise. The node keeps a block device at the path in both roles, as a
configured DRBD minor does. Only a node's private /dev (the lab's tmpfs) is ever changed.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

UNAVAILABLE_RDEV = (0, 0)
LAB_DEV_SOURCE = "hbd-lab-dev"  # the tmpfs each node mounts on /dev (hbd/lab/nodes.py)


def in_lab_node() -> bool:
    """True inside a lab node: /dev is the node's own tmpfs, never the host's."""
    try:
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                fields = line.split()
                if fields[4] == "/dev" and " - " in line and line.split(" - ", 1)[1].split()[1] == LAB_DEV_SOURCE:
                    return True
    except OSError:
        return False
    return False


def loop_rdev(loop: str) -> tuple[int, int] | None:
    """major:minor of the host's loop device, read from sysfs (the node's /dev does not have it)."""
    try:
        major, minor = Path(f"/sys/block/{Path(loop).name}/dev").read_text().split(":")
    except (OSError, ValueError):
        return None
    return int(major), int(minor)


def is_unavailable(device: str) -> bool:
    try:
        rdev = os.stat(device).st_rdev
    except OSError:
        return False
    return (os.major(rdev), os.minor(rdev)) == UNAVAILABLE_RDEV


def follow_role(device: str, primary: bool, loop: str | None) -> None:
    """Point `device` at the shared disk when Primary, at the unopenable device otherwise (atomic rename)."""
    if not in_lab_node():
        return
    target = loop_rdev(loop) if primary and loop else UNAVAILABLE_RDEV
    if target is None:
        return
    try:
        current = os.stat(device).st_rdev
        if (os.major(current), os.minor(current)) == target:
            return
    except FileNotFoundError:
        pass
    tmp = f"{device}.hbd-lab"
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    os.mknod(tmp, 0o660 | stat.S_IFBLK, os.makedev(*target))
    os.rename(tmp, device)
