"""Tear-down of one lab, and discovery of what crashed labs left behind (by the lab name prefix)."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from hbd.errors import LabError
from hbd.lab import disk, topology
from hbd.lab.cgroups import NodeCgroup, lab_groups_root
from hbd.lab.layout import PREFIX, base_dir, check_name, is_name
from hbd.lab.shell import ip_batch

MAKING_GRACE = 30.0  # seconds a lab directory without lab.json is taken to be still in the making


def remove_by_name(name: str) -> list[str]:
    """Remove every trace of lab `name`; returns what was removed. Errors are collected, then raised."""
    check_name(name)  # a name is never a path: `hbd lab down ../x` must not reach outside the lab directory
    removed: list[str] = []
    errors: list[str] = []
    # Processes first: they hold mount namespaces (and so the mounted loop device) and sockets.
    groups = lab_groups_root() / name
    if groups.is_dir():
        for member in sorted(p.name for p in groups.iterdir() if p.is_dir()):
            try:
                NodeCgroup(name, member).remove()
                removed.append(f"cgroup {name}/{member}")
            except LabError as exc:
                errors.append(str(exc))
        try:
            groups.rmdir()
        except OSError:
            pass
    names = [n for n in topology.list_netns() if n.startswith(name + "-")]
    if names:
        try:
            ip_batch(None, [f"netns delete {n}" for n in names])
            removed += [f"netns {n}" for n in names]
        except LabError as exc:
            errors.append(str(exc))
    directory = base_dir() / name
    for device in disk.loops_backed_under(directory):
        try:
            disk.detach(device, Path(disk.backing_file(device) or ""))
            removed.append(f"loop {device}")
        except LabError as exc:
            errors.append(str(exc))
    if directory.exists():
        shutil.rmtree(directory, ignore_errors=True)
        removed.append(f"dir {directory}")
    if errors:
        raise LabError(f"lab {name}: cleanup incomplete: " + "; ".join(errors))
    return removed


def known_names() -> set[str]:
    """Every lab name with any trace on this machine: namespace, cgroup or state directory."""
    names = {n.split("-", 1)[0] for n in topology.list_netns() if n.startswith(PREFIX) and "-" in n}
    for root in (lab_groups_root(), base_dir()):
        if root.is_dir():
            names |= {p.name for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX)}
    return {n for n in names if is_name(n)}  # nothing else was made by a lab


def owner_alive(name: str) -> bool | None:
    """True/False for a lab owned by a process; None for a persistent lab (made by `hbd lab up`)."""
    directory = base_dir() / check_name(name)
    try:
        state = json.loads((directory / "lab.json").read_text())
    except (FileNotFoundError, ValueError):
        # No state yet: a lab being made this very moment, or one whose maker died before writing it.
        try:
            return time.time() - directory.stat().st_mtime < MAKING_GRACE
        except FileNotFoundError:
            return False
    owner = state.get("owner")
    if owner is None:
        return None
    try:
        os.kill(int(owner), 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def leftovers() -> list[str]:
    """Labs whose owning process is gone: what a crashed or killed run left behind."""
    return sorted(n for n in known_names() if owner_alive(n) is False)


def traces(name: str) -> list[str]:
    """Everything of lab `name` still on this machine (empty after a clean tear-down)."""
    check_name(name)
    found = [f"netns {n}" for n in topology.list_netns() if n.startswith(name + "-")]
    groups = lab_groups_root() / name
    if groups.exists():
        found.append(f"cgroup {groups}")
    directory = base_dir() / name
    if directory.exists():
        found.append(f"dir {directory}")
    found += [f"loop {d}" for d in disk.loops_backed_under(directory)]
    with open("/proc/self/mountinfo") as fh:
        found += [f"mount {line.split()[4]}" for line in fh if str(directory) in line]
    for pid in _pids_mentioning(name):
        found.append(f"process {pid}")
    return found


def _pids_mentioning(name: str) -> list[int]:
    """Processes whose cgroup or command line names the lab (a process that escaped its cgroup)."""
    me = os.getpid()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            cgroup = (entry / "cgroup").read_text()
        except OSError:
            continue
        if f"/hbd-lab/{name}/" in cgroup or f"/{name}/".encode() in cmdline or f"{name}-".encode() in cmdline:
            pids.append(int(entry.name))
    return pids
