"""Invariant watchers: each one stays quiet on a healthy lab and reports a violation with when and where."""
from __future__ import annotations

import json
import time

import pytest

from hbd.lab import Lab
from hbd.lab.drbd_state import ResourceStore
from hbd.lab.watch import InvariantViolation, InvariantWatcher

pytestmark = pytest.mark.lab
VIP = "192.0.2.50"


def wait_polls(watcher: InvariantWatcher, more: int = 3, timeout: float = 5.0) -> None:
    target = watcher.polls + more
    deadline = time.monotonic() + timeout
    while watcher.polls < target and time.monotonic() < deadline:
        time.sleep(0.01)
    assert watcher.polls >= target, "watcher stopped polling"


def test_healthy_failover_passes(lab: Lab) -> None:
    with InvariantWatcher(lab, vip=VIP, mountpoint="/mnt") as watcher:
        lab.exec("n1", ["drbdadm", "primary", "r0"])
        lab.exec("n1", ["mount", "/dev/drbd0", "/mnt"])
        lab.exec("n1", ["ip", "addr", "add", f"{VIP}/24", "dev", "eth0"])
        wait_polls(watcher)
        lab.exec("n1", ["ip", "addr", "del", f"{VIP}/24", "dev", "eth0"])
        lab.exec("n1", ["umount", "/mnt"])
        lab.exec("n1", ["drbdadm", "secondary", "r0"])
        lab.exec("n2", ["drbdadm", "primary", "r0"])
        lab.exec("n2", ["mount", "/dev/drbd0", "/mnt"])
        lab.exec("n2", ["ip", "addr", "add", f"{VIP}/24", "dev", "eth0"])
        wait_polls(watcher)
    assert watcher.violations == []


def test_vip_on_two_nodes_is_reported(lab: Lab) -> None:
    watcher = InvariantWatcher(lab, vip=VIP, drbd=None).start()
    for node in lab.nodes:
        lab.exec(node, ["ip", "addr", "add", f"{VIP}/24", "dev", "eth0"])
    wait_polls(watcher)
    watcher.stop()
    with pytest.raises(InvariantViolation, match=r"VIP configured twice on n1, n2"):
        watcher.check()
    assert len(watcher.violations) == 1  # recorded once, not at every poll


def test_filesystem_mounted_twice_is_reported(lab: Lab) -> None:
    watcher = InvariantWatcher(lab, mountpoint="/mnt", drbd=None).start()
    lab.cut("n1", 1, how="filter")  # apart, both may be Primary (a Secondary cannot be mounted at all)
    for node in lab.nodes:
        lab.exec(node, ["drbdadm", "primary", "r0"])
        lab.exec(node, ["mount", "/dev/drbd0", "/mnt"])
    wait_polls(watcher)
    watcher.stop()
    with pytest.raises(InvariantViolation, match=r"filesystem mounted twice on n1, n2: /mnt"):
        watcher.check()


def test_two_primaries_while_connected_is_reported(lab: Lab) -> None:
    # The emulator itself refuses this, so the state is forged the way a DRBD bug would leave it.
    store = ResourceStore(lab.layout.drbd_dir, "r0")
    watcher = InvariantWatcher(lab).start()
    with store.locked() as res:
        for node in res.nodes.values():
            node.role = "Primary"
    wait_polls(watcher)
    watcher.stop()
    with pytest.raises(InvariantViolation, match=r"two Primaries while connected on n1, n2") as info:
        watcher.check()
    assert "(+" in str(info.value)  # says when, relative to the watcher's start
    assert json.loads(store.file.read_text())["nodes"]["n1"]["role"] == "Primary"
