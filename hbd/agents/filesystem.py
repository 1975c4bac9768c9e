"""Filesystem: mount a device on a directory and take it away again, verified against mountinfo.

start: wait (bounded, pyudev) for the device node, fsck by Heartbeat's rules, mkdir, mount.
stop: unmount everything at or below the mountpoint, deepest first; when busy and force_unmount is
on, end the holders with TERM, then KILL, within the stop's time, then verify nothing is left.
status: the mountpoint is in /proc/self/mountinfo with the configured device.
"""
from __future__ import annotations

import os
import signal
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from hbd.agents import holders, mountinfo, runner
from hbd.agents.base import DEFAULT_TIMEOUT_S, Agent, AgentResult, Deadline, failed, running, stopped, timed_out
from hbd.errors import AgentError

# fstypes that need no fsck before mounting (journaled or remote), after Heartbeat's Filesystem agent.
NO_FSCK = frozenset({"ext3", "ext4", "reiserfs", "reiser4", "nss", "xfs", "jfs", "vfat", "fat", "nfs", "nfs4",
                     "cifs", "smbfs", "ocfs2", "gfs2", "none", "lustre", "glusterfs", "btrfs", "tmpfs", "ceph"})
NETWORK = frozenset({"nfs", "nfs4", "cifs", "smbfs", "glusterfs", "ceph"})
DEVICE_WAIT_S = 5.0
FSCK_TIMEOUT_S = 300.0
MOUNT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class FsSpec:
    device: str
    mountpoint: str
    fstype: str | None = None
    options: str | None = None
    force_unmount: bool = True
    force_fsck: bool = False
    device_wait_s: float = DEVICE_WAIT_S

    @property
    def is_network(self) -> bool:
        return (self.fstype in NETWORK) or self.device.startswith("//") or (":/" in self.device)

    @property
    def device_path(self) -> str | None:
        """The block device node to wait for, or None for network and pseudo filesystems."""
        if self.is_network or self.fstype in ("tmpfs", "none"):
            return None
        for prefix, folder in (("-L", "by-label"), ("LABEL=", "by-label"), ("-U", "by-uuid"), ("UUID=", "by-uuid")):
            if self.device.startswith(prefix):
                return f"/dev/disk/{folder}/{self.device[len(prefix):]}"
        return self.device


def needs_fsck(spec: FsSpec) -> bool:
    """Heartbeat: fsck unless the fstype is in the no-fsck list; rgmanager's force_fsck overrides."""
    if spec.is_network or spec.device_path is None:
        return False
    return spec.force_fsck or spec.fstype not in NO_FSCK


def fsck_failed(rc: int | None) -> bool:
    """fsck: 0 clean, 1 errors corrected, 2 reboot advised; 4 and up are failures (Heartbeat's rule)."""
    return rc is None or rc >= 4


def _check_dir(path: str) -> str:
    if not path.startswith("/") or path.rstrip("/") == "" or "//" in path:
        raise AgentError(f"Filesystem: mountpoint '{path}' must be an absolute path other than /")
    return path.rstrip("/")


def _bool(name: str, value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    v = value.lower()
    if v in ("1", "yes", "on", "true"):
        return True
    if v in ("0", "no", "off", "false"):
        return False
    raise AgentError(f"fs: {name}='{value}' is not a boolean")


def parse_heartbeat(args: Sequence[str]) -> FsSpec:
    """`Filesystem::device::mountpoint[::fstype[::options]]`."""
    if len(args) < 2 or len(args) > 4 or not args[0] or not args[1]:
        raise AgentError("Filesystem: expected device::mountpoint[::fstype[::options]]")
    fstype = args[2] if len(args) > 2 and args[2] else None
    options = args[3] if len(args) > 3 and args[3] else None
    return FsSpec(args[0], _check_dir(args[1]), fstype, options)


def parse_cluster_attrs(attrs: Mapping[str, str | None]) -> FsSpec:
    """cluster.conf `<fs>`: device, mountpoint, fstype, options, force_unmount, force_fsck."""
    device, mountpoint = attrs.get("device"), attrs.get("mountpoint")
    if not device or not mountpoint:
        raise AgentError("fs: device and mountpoint are required")
    return FsSpec(device, _check_dir(mountpoint), attrs.get("fstype") or None, attrs.get("options") or None,
                  force_unmount=_bool("force_unmount", attrs.get("force_unmount"), True),
                  force_fsck=_bool("force_fsck", attrs.get("force_fsck"), False))


def mount_command(spec: FsSpec) -> list[str]:
    argv = ["mount"]
    if spec.fstype:
        argv += ["-t", spec.fstype]
    if spec.options:
        argv += ["-o", spec.options]
    device = spec.device
    if device.startswith("-L") or device.startswith("-U"):
        argv += [device[:2], device[2:]]
    else:
        argv.append(device)
    return argv + [spec.mountpoint]


def umount_command(entry: mountinfo.MountEntry, network: bool) -> list[str]:
    return ["umount", *(["-f"] if network else []), entry.mountpoint]


class Filesystem(Agent):
    kind = "Filesystem"

    def __init__(self, spec: FsSpec, *, term_wait_s: float = 2.0):
        self.spec = spec
        self.term_wait_s = term_wait_s

    @property
    def label(self) -> str:
        return f"Filesystem::{self.spec.device}::{self.spec.mountpoint}"

    def _device_rdev(self) -> int | None:
        path = self.spec.device_path
        if path is None:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        return st.st_rdev if stat.S_ISBLK(st.st_mode) else None

    def _mounted(self) -> mountinfo.MountEntry | None:
        return mountinfo.at(mountinfo.read(), self.spec.mountpoint)

    def _ours(self, entry: mountinfo.MountEntry) -> bool:
        rdev = self._device_rdev()
        if rdev is not None:
            return entry.dev == rdev
        return entry.source == self.spec.device

    def status(self, deadline: Deadline) -> AgentResult:
        entry = self._mounted()
        if entry is None:
            return stopped("status", f"{self.spec.mountpoint} is not mounted")
        if not self._ours(entry):
            return failed("status", f"{self.spec.mountpoint} holds {entry.source}, not {self.spec.device}")
        return running("status", f"{entry.source} is mounted on {entry.mountpoint} ({entry.fstype})")

    def start(self, deadline: Deadline) -> AgentResult:
        spec = self.spec
        entries = mountinfo.read()
        entry = mountinfo.at(entries, spec.mountpoint)
        if entry is not None and self._ours(entry):
            return running("start", f"{entry.source} is already mounted on {spec.mountpoint}: nothing to do")
        inside = mountinfo.below(entries, spec.mountpoint)
        if inside:
            return failed("start", f"{spec.mountpoint} already has {inside[-1].source} mounted at "
                                   f"{inside[-1].mountpoint}")
        actions: list[str] = []
        path = spec.device_path
        if path is not None:
            from hbd.agents.udev_wait import wait_for_device  # pyudev: only on a start that waits

            waited = wait_for_device(path, min(spec.device_wait_s, deadline.remaining()))
            if waited is None:
                return failed("start", f"device {path} did not appear within {spec.device_wait_s:g}s")
            if waited > 0:
                actions.append(f"waited {waited:.3f}s for {path}")
            rdev = self._device_rdev()
            busy = [e for e in entries if rdev is not None and e.dev == rdev]
            if busy:
                return failed("start", f"{spec.device} is already mounted on {busy[0].mountpoint}")
        if needs_fsck(spec):
            res = runner.run(["fsck", "-p", *(["-t", spec.fstype] if spec.fstype else []), spec.device],
                             min(FSCK_TIMEOUT_S, deadline.remaining()))
            actions.append(f"fsck -p {spec.device}: {res.describe()}")
            if res.timed_out or fsck_failed(res.rc):
                return failed("start", f"fsck of {spec.device} failed (rc {res.rc}): {res.stderr.strip()}", *actions)
        Path(spec.mountpoint).mkdir(parents=True, exist_ok=True)
        res = runner.run(mount_command(spec), min(MOUNT_TIMEOUT_S, deadline.remaining()))
        actions.append(f"mounting {spec.device} on {spec.mountpoint}: {res.describe()}")
        if not res.ok:
            fail = timed_out if res.timed_out else failed
            return fail("start", f"mount failed: {res.stderr.strip() or res.describe()}", *actions)
        entry = self._mounted()
        if entry is None or not self._ours(entry):
            return failed("start", f"mount returned 0 but {spec.mountpoint} does not hold {spec.device}", *actions)
        return running("start", *actions)

    def stop(self, deadline: Deadline) -> AgentResult:
        actions: list[str] = []
        for _ in range(64):  # bounded: each round removes at least one mount or gives up
            inside = mountinfo.below(mountinfo.read(), self.spec.mountpoint)
            if not inside:
                return stopped("stop", *actions) if actions else stopped(
                    "stop", f"{self.spec.mountpoint} is not mounted: nothing to do")
            problem = self._unmount(inside[0], deadline, actions)
            if problem:
                return (timed_out if deadline.expired else failed)("stop", problem, *actions)
        return failed("stop", f"too many mounts below {self.spec.mountpoint}", *actions)

    def force_stop(self, timeout_s: float | None = None) -> AgentResult | None:
        """The escalation after a failed stop: KILL every holder at once (no TERM first), then unmount."""
        if not self.spec.force_unmount:
            return None  # the admin forbade killing the holders (force_unmount=0)
        deadline = Deadline(DEFAULT_TIMEOUT_S["stop"] if timeout_s is None else timeout_s)
        actions: list[str] = []
        for _ in range(64):  # bounded, as stop
            inside = mountinfo.below(mountinfo.read(), self.spec.mountpoint)
            if not inside:
                return stopped("stop", *actions)
            entry = inside[0]
            pids = holders.holders(entry.dev)
            if pids:
                left = holders.end(pids, signal.SIGKILL, min(self.term_wait_s, deadline.remaining()))
                actions.append(f"killed holders of {entry.mountpoint}: {' '.join(map(str, pids))}"
                               + (f"; still alive: {left}" if left else ""))
            if not self._umount_once(entry, deadline, actions) or deadline.expired:
                still = holders.holders(entry.dev)
                return failed("stop", f"cannot unmount {entry.mountpoint}"
                              + (f": still used by {still}" if still else ""), *actions)
        return failed("stop", f"too many mounts below {self.spec.mountpoint}", *actions)

    def _umount_once(self, entry: mountinfo.MountEntry, deadline: Deadline, actions: list[str]) -> bool:
        res = runner.run(umount_command(entry, self.spec.is_network), max(0.5, min(10.0, deadline.remaining())))
        actions.append(f"unmounting {entry.mountpoint}: {res.describe()}"
                       + (f" ({res.stderr.strip()})" if res.stderr.strip() else ""))
        return res.ok

    def _unmount(self, entry: mountinfo.MountEntry, deadline: Deadline, actions: list[str]) -> str | None:
        """Unmount one entry, ending its holders TERM then KILL when busy; None on success."""
        if self._umount_once(entry, deadline, actions):
            return None
        if not self.spec.force_unmount:
            return f"cannot unmount {entry.mountpoint} (force_unmount is off)"
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = holders.holders(entry.dev)
            if pids:
                wait = min(self.term_wait_s, deadline.remaining())
                left = holders.end(pids, sig, wait)
                actions.append(f"sent {sig.name} to {len(pids)} process(es) using {entry.mountpoint}: "
                               f"{' '.join(map(str, pids))}" + (f"; still alive: {left}" if left else ""))
            if self._umount_once(entry, deadline, actions):
                return None
            if deadline.expired:
                break
        still = holders.holders(entry.dev)
        return f"cannot unmount {entry.mountpoint}" + (f": still used by {still}" if still else "")
