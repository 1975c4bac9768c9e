"""The lab on cgroup v2 (Debian 12's default): freeze, thaw, power off and clean tear-down."""
from __future__ import annotations

from pathlib import Path

import pytest

from hbd.lab import Lab, netns
from hbd.lab.cgroups import hierarchy_root
from hbd.lab.cleanup import traces

pytestmark = pytest.mark.lab


def v2_mount() -> Path | None:
    for candidate in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
        if (candidate / "cgroup.controllers").exists():
            return candidate
    return None


def answers(lab: Lab, node: str) -> str | None:
    sock = netns.socket_in(lab.client_netns)
    with sock:
        sock.settimeout(0.5)
        try:
            sock.connect((lab.address(node), 7777))
            return sock.recv(16).decode().strip()
        except OSError:
            return None


def test_freeze_and_power_off_on_cgroup_v2(monkeypatch: pytest.MonkeyPatch) -> None:
    mount = v2_mount()
    if mount is None:
        pytest.skip("no cgroup v2 hierarchy mounted on this machine")
    monkeypatch.setenv("HBD_LAB_CGROUP2", str(mount))
    assert hierarchy_root() == (mount, 2)
    lab = Lab.up()
    try:
        group = lab.cgroup("n1").path
        assert group.is_relative_to(mount) and (group / "cgroup.freeze").exists()
        assert answers(lab, "n1") == "n1"
        lab.freeze("n1")
        assert lab.cgroup("n1").frozen()
        assert answers(lab, "n1") is None
        lab.thaw("n1")
        assert answers(lab, "n1") == "n1"
        lab.power_off("n1")
        assert lab.processes("n1") == []
    finally:
        lab.down()
    assert traces(lab.name) == []
