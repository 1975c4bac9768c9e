"""The lab's shared disk: one loop device with ext4, standing for the DRBD-replicated disk."""
from __future__ import annotations

import os
import time
from pathlib import Path

from hbd.errors import LabError
from hbd.lab.shell import run

SIZE_MB = 256  # room for a small PostgreSQL database (initdb alone needs about 40 MB); sparse
MIN_SIZE_MB, MAX_SIZE_MB = 16, 64 * 1024
DETACH_TIMEOUT = 5.0


def check_size_mb(size_mb: int) -> int:
    if not MIN_SIZE_MB <= size_mb <= MAX_SIZE_MB:
        raise ValueError(f"disk size {size_mb} MB: must be {MIN_SIZE_MB}-{MAX_SIZE_MB} MB")
    return size_mb


def create(image: Path, size_mb: int = SIZE_MB) -> str:
    """Make the (sparse) image, put ext4 on it and attach it; returns the loop device path."""
    with open(image, "wb") as fh:
        fh.truncate(check_size_mb(size_mb) * 1024 * 1024)  # a hole: only what is written takes space
    # lazy init and no journal zeroing: mkfs takes milliseconds, and the image stays sparse
    run(["mkfs.ext4", "-q", "-F", "-L", "hbdlab", "-E", "lazy_itable_init=1,lazy_journal_init=1", str(image)], timeout=30)
    return str(run(["losetup", "--find", "--show", str(image)], timeout=10).stdout).strip()


def attach_blank(image: Path, size_mb: int = SIZE_MB) -> str:
    """A sparse image of the same size, attached without a filesystem: a node's own disk once its data
    forks from the shared one (hbd/lab/drbd_images.py copies the data in then)."""
    with open(image, "wb") as fh:
        fh.truncate(check_size_mb(size_mb) * 1024 * 1024)
    return str(run(["losetup", "--find", "--show", str(image)], timeout=10).stdout).strip()


def rdev(device: str) -> tuple[int, int]:
    st = os.stat(device)
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def detach(device: str, image: Path) -> None:
    """Detach and wait (bounded) until the kernel has released it; a still-mounted device autoclears later."""
    if backing_file(device) != str(image):
        return
    run(["losetup", "-d", device], check=False)
    deadline = time.monotonic() + DETACH_TIMEOUT
    while backing_file(device) == str(image):
        if time.monotonic() > deadline:
            raise LabError(f"loop device {device} ({image}) still attached after {DETACH_TIMEOUT:g} s")
        time.sleep(0.01)


def backing_file(device: str) -> str | None:
    name = Path(device).name
    try:
        return Path(f"/sys/block/{name}/loop/backing_file").read_text().strip().removesuffix(" (deleted)")
    except (FileNotFoundError, OSError):
        return None


def loops_backed_under(directory: Path) -> list[str]:
    """Loop devices whose backing file lies under `directory` (what a crashed lab left attached)."""
    found = []
    for entry in Path("/sys/block").glob("loop*"):
        back = backing_file(f"/dev/{entry.name}")
        if back and (back == str(directory) or back.startswith(str(directory) + "/")):
            found.append(f"/dev/{entry.name}")
    return sorted(found)
