"""Filesystem's pure parts: mountinfo (captured from the kernel), maps, fsck rules, arguments, mount argv."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from hbd.agents import filesystem, holders, mountinfo
from hbd.agents.filesystem import FsSpec
from hbd.errors import AgentError

DATA = Path(__file__).resolve().parent.parent / "data" / "agents"


@pytest.fixture(scope="module")
def entries() -> tuple[mountinfo.MountEntry, ...]:
    return mountinfo.read(DATA / "mountinfo.txt")


def test_captured_mountinfo_parses(entries: tuple[mountinfo.MountEntry, ...]) -> None:
    assert len(entries) == len((DATA / "mountinfo.txt").read_text().splitlines())
    root = next(e for e in entries if e.mountpoint == "/")
    assert root.root == "/" and root.fstype and root.mount_id > 0


def test_escaped_spaces_are_decoded(entries: tuple[mountinfo.MountEntry, ...]) -> None:
    hidden, top = [e for e in entries if e.mountpoint == "/tmp/hbdtest cap/a b"]
    assert (hidden.source, hidden.fstype, hidden.super_options) == ("hbd cap", "tmpfs", ("rw", "size=1024k"))
    assert mountinfo.at(entries, "/tmp/hbdtest cap/a b/") == top and top.source == "sub"


def test_below_lists_deepest_and_latest_first(entries: tuple[mountinfo.MountEntry, ...]) -> None:
    found = mountinfo.below(entries, "/tmp/hbdtest cap")
    assert [e.source for e in found] == ["sub", "hbd cap"]
    assert mountinfo.below(entries, "/tmp/hbdtest") == ()


def test_optional_fields_before_the_separator() -> None:
    line = "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue"
    entry = mountinfo.parse_line(line)
    assert (entry.major, entry.minor, entry.root, entry.mountpoint, entry.fstype, entry.source) == (
        98, 0, "/mnt1", "/mnt2", "ext3", "/dev/root")
    assert entry.dev == os.makedev(98, 0)


def test_garbage_is_refused() -> None:
    with pytest.raises(ValueError, match="not a mountinfo line"):
        mountinfo.parse_line("36 35 98:0 /mnt1 /mnt2 rw")


def test_maps_devices_from_a_captured_maps_file() -> None:
    text = (DATA / "maps.txt").read_text()
    devs = holders.maps_devices(text)
    first = text.split()[3]
    assert os.makedev(int(first.split(":")[0], 16), int(first.split(":")[1], 16)) in devs
    assert holders.maps_devices("7f00-7f01 rw-p 00000000 00:00 0 \n") == set()


@pytest.mark.parametrize("spec, needed", [
    (FsSpec("/dev/sdb1", "/mnt", "ext4"), False),
    (FsSpec("/dev/sdb1", "/mnt", "xfs"), False),
    (FsSpec("/dev/sdb1", "/mnt", "ext2"), True),
    (FsSpec("/dev/sdb1", "/mnt", None), True),
    (FsSpec("/dev/sdb1", "/mnt", "ext4", force_fsck=True), True),
    (FsSpec("srv:/export", "/mnt", "nfs", force_fsck=True), False),
    (FsSpec("//srv/share", "/mnt", None), False),
])
def test_fsck_rules(spec: FsSpec, needed: bool) -> None:
    assert filesystem.needs_fsck(spec) is needed


@pytest.mark.parametrize("rc, bad", [(0, False), (1, False), (2, False), (4, True), (8, True), (None, True)])
def test_fsck_result(rc: int | None, bad: bool) -> None:
    assert filesystem.fsck_failed(rc) is bad


def test_heartbeat_arguments_and_mount_command() -> None:
    spec = filesystem.parse_heartbeat(("/dev/drbd0", "/srv/data/", "ext4", "noatime,ro"))
    assert spec == FsSpec("/dev/drbd0", "/srv/data", "ext4", "noatime,ro")
    assert filesystem.mount_command(spec) == ["mount", "-t", "ext4", "-o", "noatime,ro", "/dev/drbd0", "/srv/data"]
    assert filesystem.mount_command(filesystem.parse_heartbeat(("-Ldata", "/srv"))) == ["mount", "-L", "data", "/srv"]


def test_device_paths_to_wait_for() -> None:
    assert FsSpec("-Ldata", "/srv").device_path == "/dev/disk/by-label/data"
    assert FsSpec("UUID=1234", "/srv").device_path == "/dev/disk/by-uuid/1234"
    assert FsSpec("srv:/export", "/srv").device_path is None
    assert FsSpec("/dev/loop3", "/srv").device_path == "/dev/loop3"


def test_cluster_conf_fs() -> None:
    spec = filesystem.parse_cluster_attrs({"name": "data", "device": "/dev/drbd0", "mountpoint": "/srv",
                                           "fstype": "ext4", "force_unmount": "0", "force_fsck": "1"})
    assert (spec.force_unmount, spec.force_fsck, spec.fstype, spec.options) == (False, True, "ext4", None)


@pytest.mark.parametrize("args", [("/dev/sdb1",), ("/dev/sdb1", "relative"), ("/dev/sdb1", "/"), ("", "/mnt"),
                                  ("a", "/b", "c", "d", "e")])
def test_bad_heartbeat_arguments(args: tuple[str, ...]) -> None:
    with pytest.raises(AgentError):
        filesystem.parse_heartbeat(args)


def test_bad_cluster_attributes() -> None:
    with pytest.raises(AgentError, match="device and mountpoint are required"):
        filesystem.parse_cluster_attrs({"device": "/dev/sdb1"})
    with pytest.raises(AgentError, match="not a boolean"):
        filesystem.parse_cluster_attrs({"device": "/dev/sdb1", "mountpoint": "/m", "force_unmount": "perhaps"})
