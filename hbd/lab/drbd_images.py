"""Per-node data of the emulated DRBD: one shared image while it is one generation, a copy when it forks.

Two connected DRBD disks (protocol C) hold the same data, so the lab lets both nodes use one image, the
lab's loop device, as long as they are one data generation. The data forks when a node becomes Primary
while disconnected from a peer whose data is a generation of its own (the peer is Primary, or was Primary
while disconnected): the second Primary of a split brain, or a promotion while the old Primary still
runs. That node then gets a crash-consistent copy of the shared image (after a global sync, as a power cut
would leave it: ext4 replays its journal) on a spare loop device attached at Lab.up, so nothing inside a
node calls losetup. When the two sides sync again, the SyncTarget simply uses the SyncSource's image from
then on (drbd_state.follow_image): it is Secondary and unmounted then, so no data is ever copied under a
mounted filesystem. Which image each node uses is in the resource state (ResourceState.images).
"""
from __future__ import annotations

import errno
import fcntl
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hbd.lab import drbd_device, drbd_state
from hbd.lab.disk import backing_file

BLKFLSBUF = 0x1261  # linux/fs.h: write back and drop the block device's buffer cache
COPY_CHUNK = 64 * 1024 * 1024


def lab_images(lab_state: Mapping[str, Any]) -> list[str]:
    """Every loop device of the lab's DRBD data: the shared one first, then the nodes' spares."""
    shared = lab_state.get("loop")
    spares = dict(lab_state.get("spare_loops") or {})
    return [str(loop) for loop in [shared, *spares.values()] if loop]


def candidates(lab_state: Mapping[str, Any], node: str) -> list[str]:
    """The images a forking node may take, its own spare first."""
    own = (lab_state.get("spare_loops") or {}).get(node)
    return ([own] if own else []) + [i for i in lab_images(lab_state) if i != own]


def fork_if_diverged(res: drbd_state.ResourceState, node: str, link_ok: bool,
                     lab_state: Mapping[str, Any]) -> list[str]:
    """Give `node` its own copy of the data when its promotion starts a second generation; log lines."""
    if not drbd_state.needs_own_image(res, node, link_ok):
        return []
    source = res.images[node]
    target = drbd_state.free_image(res, candidates(lab_state, node))
    if target is None:
        return [f"{node}: no free disk image: the data stays shared with {res.peer(node)}"]
    copy_image(source, target)
    res.images[node] = target
    return [f"{node}: new data generation on its own disk: {source} copied to {target}"]


def copy_image(source_loop: str, target_loop: str) -> None:
    """Copy source's backing file over target's (holes stay holes), then drop target's stale buffer cache."""
    src, dst = backing_file(source_loop), backing_file(target_loop)
    if not src or not dst:
        raise OSError(errno.ENODEV, f"no backing file for {source_loop if not src else target_loop}")
    os.sync()  # what the peer's filesystem wrote reaches the source image: the copy is crash-consistent
    with open(src, "rb") as fin, open(dst, "r+b") as fout:
        size = os.fstat(fin.fileno()).st_size
        fout.truncate(0)  # all holes, then only the source's data extents are written
        fout.truncate(size)
        for begin, end in _data_extents(fin.fileno(), size):
            _copy_range(fin.fileno(), fout.fileno(), begin, end)
        os.fsync(fout.fileno())
    flush_buffers(target_loop)


def _data_extents(fd: int, size: int) -> list[tuple[int, int]]:
    extents, offset = [], 0
    while offset < size:
        try:
            begin = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # only a hole is left
                break
            raise
        end = os.lseek(fd, begin, os.SEEK_HOLE)
        extents.append((begin, end))
        offset = end
    return extents


def _copy_range(fin: int, fout: int, begin: int, end: int) -> None:
    offset = begin
    while offset < end:
        count = min(COPY_CHUNK, end - offset)
        try:
            done = os.copy_file_range(fin, fout, count, offset, offset)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
                raise
            done = os.pwrite(fout, os.pread(fin, count, offset), offset)
        if done <= 0:
            raise OSError(errno.EIO, f"copy stopped at offset {offset} of {end}")
        offset += done


def flush_buffers(loop: str) -> None:
    """BLKFLSBUF on the loop device, through a device node made for the call (a node's /dev has no loops)."""
    rdev = drbd_device.loop_rdev(loop)
    if rdev is None:
        return
    node = Path("/dev") / f".hbd-lab-flush-{rdev[0]}-{rdev[1]}" if drbd_device.in_lab_node() else Path(loop)
    made = not node.exists()
    if made:
        os.mknod(node, 0o600 | stat.S_IFBLK, os.makedev(*rdev))
    try:
        fd = os.open(node, os.O_RDONLY)
        try:
            fcntl.ioctl(fd, BLKFLSBUF)
        finally:
            os.close(fd)
    finally:
        if made:
            node.unlink()
