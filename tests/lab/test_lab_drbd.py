"""The drbdadm emulator inside lab nodes: DRBD's refusals, the network-driven connection, split brain."""
from __future__ import annotations

import select
import subprocess

import pytest

from hbd.lab import Lab
from hbd.lab import drbd_format as fmt

pytestmark = pytest.mark.lab


def drbdadm(lab: Lab, node: str, *args: str) -> subprocess.CompletedProcess:
    return lab.exec(node, ["drbdadm", *args], check=False)


def role(lab: Lab, node: str) -> tuple[str, str]:
    return fmt.parse_pair(drbdadm(lab, node, "role", "r0").stdout)


def cstate(lab: Lab, node: str) -> str:
    return drbdadm(lab, node, "cstate", "r0").stdout.strip()


def test_second_primary_refused_while_connected(lab: Lab) -> None:
    assert drbdadm(lab, "n1", "primary", "r0").returncode == 0
    refused = drbdadm(lab, "n2", "primary", "r0")
    assert refused.returncode == 11
    assert "State change failed: (-1) Multiple primaries not allowed by config" in refused.stderr
    assert role(lab, "n2") == ("Secondary", "Primary")
    assert role(lab, "n1") == ("Primary", "Secondary")


def test_secondary_refused_while_mounted_or_open(lab: Lab) -> None:
    assert drbdadm(lab, "n1", "primary", "r0").returncode == 0
    lab.exec("n1", ["mount", "/dev/drbd0", "/mnt"])
    refused = drbdadm(lab, "n1", "secondary", "r0")
    assert refused.returncode == 11
    assert "(-12) Device is held open by someone" in refused.stderr
    assert role(lab, "n1")[0] == "Primary"
    lab.exec("n1", ["umount", "/mnt"])
    holder = lab.spawn("n1", ["sh", "-c", "exec 3</dev/drbd0; echo open; exec sleep 60"], stdout=subprocess.PIPE)
    assert holder.stdout is not None
    assert select.select([holder.stdout], [], [], 10)[0] and holder.stdout.readline() == b"open\n"
    assert drbdadm(lab, "n1", "secondary", "r0").returncode == 11
    holder.kill()
    holder.wait(timeout=5)
    assert drbdadm(lab, "n1", "secondary", "r0").returncode == 0
    assert role(lab, "n1") == ("Secondary", "Secondary")


def test_connection_follows_the_replication_medium(lab: Lab) -> None:
    assert cstate(lab, "n1") == "Connected"
    lab.cut("n2", 0, how="link")  # medium 0 is not the replication link
    assert cstate(lab, "n1") == "Connected"
    lab.cut("n2", 1, how="filter")
    assert cstate(lab, "n1") == "WFConnection"
    assert drbdadm(lab, "n1", "dstate", "r0").stdout.strip() == "UpToDate/DUnknown"
    lab.restore("n2")
    assert cstate(lab, "n1") == "Connected"
    lab.power_off("n2")
    assert cstate(lab, "n1") == "WFConnection"
    lab.boot("n2")
    assert cstate(lab, "n2") == "Connected"


def test_split_brain_recorded_then_resolved_with_the_seed_sequence(lab: Lab) -> None:
    assert drbdadm(lab, "n1", "primary", "r0").returncode == 0
    lab.cut("n1", 1, how="filter")
    assert drbdadm(lab, "n2", "primary", "r0").returncode == 0  # allowed: the peer is unreachable
    lab.exec("n2", ["mount", "/dev/drbd0", "/mnt"])
    lab.exec("n2", ["sh", "-c", "head -c 200000 /dev/urandom > /mnt/orphan && sync"])
    stats = fmt.parse_status(drbdadm(lab, "n2", "status", "--statistics", "r0").stdout)
    assert int(stats["r0"]["peers"]["n1"]["out_of_sync"]) >= 190  # KB written while apart
    lab.exec("n2", ["umount", "/mnt"])
    lab.restore("n1")
    assert cstate(lab, "n1") == "StandAlone" and cstate(lab, "n2") == "StandAlone"
    log = (lab.layout.drbd_dir / "r0.log").read_text()
    assert "split brain recorded" in log and "Split-Brain detected but unresolved" in log
    # Seed 001, split-brain recovery: keep node 1's data, discard node 2's.
    for args in (["secondary", "all"], ["disconnect", "all"], ["--", "--discard-my-data", "connect", "all"]):
        assert drbdadm(lab, "n2", *args).returncode == 0, args
    assert cstate(lab, "n2") == "WFConnection"
    assert drbdadm(lab, "n1", "connect", "all").returncode == 0
    assert cstate(lab, "n1") == "Connected" and cstate(lab, "n2") == "Connected"
    assert role(lab, "n1") == ("Primary", "Secondary")
    assert drbdadm(lab, "n2", "dstate", "r0").stdout.strip() == "UpToDate/UpToDate"
    assert "n2 discards" in (lab.layout.drbd_dir / "r0.log").read_text()


def test_outputs_parse_back_in_84_and_9_formats(lab: Lab) -> None:
    drbdadm(lab, "n1", "primary", "r0")
    status = fmt.parse_status(drbdadm(lab, "n1", "status", "r0").stdout)
    assert status["r0"]["role"] == "Primary" and status["r0"]["disk"] == "UpToDate"
    assert status["r0"]["peers"]["n2"] == {"connection": "Connected", "role": "Secondary", "peer_disk": "UpToDate"}
    assert fmt.parse_pair(drbdadm(lab, "n2", "dstate", "r0").stdout) == ("UpToDate", "UpToDate")
    lab.cut("n2", how="link")
    status = fmt.parse_status(drbdadm(lab, "n1", "status").stdout)
    assert status["r0"]["peers"]["n2"]["connection"] == "Connecting"


def test_commands_and_exit_codes_of_the_lifecycle(lab: Lab) -> None:
    assert drbdadm(lab, "n1", "up", "r0").returncode == 10  # already up
    assert drbdadm(lab, "n1", "create-md", "r0").stdout == "New drbd meta data block successfully created.\n"
    assert drbdadm(lab, "n1", "state", "r0").stdout == "Secondary/Secondary\n"
    assert drbdadm(lab, "n1", "role", "r7").returncode == 10
    assert "'r7' not defined in your config" in drbdadm(lab, "n1", "role", "r7").stderr
    assert drbdadm(lab, "n1", "frobnicate", "r0").returncode == 20
    assert drbdadm(lab, "n1", "down", "r0").returncode == 0
    gone = drbdadm(lab, "n1", "role", "r0")
    assert gone.returncode == 10 and "Device minor not allocated" in gone.stderr
    assert cstate(lab, "n2") == "WFConnection"
    assert drbdadm(lab, "n1", "adjust", "all").returncode == 0
    assert cstate(lab, "n1") == "Connected"
    assert drbdadm(lab, "n1", "disconnect", "r0").returncode == 0
    assert cstate(lab, "n1") == "StandAlone"
    assert drbdadm(lab, "n1", "connect", "r0").returncode == 0
    assert drbdadm(lab, "n1", "connect", "r0").returncode == 10  # already connecting
    assert drbdadm(lab, "n1", "--", "--overwrite-data-of-peer", "primary", "r0").returncode == 0
    assert role(lab, "n1") == ("Primary", "Secondary")


def test_a_secondary_cannot_be_opened_or_mounted(lab: Lab) -> None:
    # real DRBD refuses to open a Secondary: no read-write mount, no read-only one, no raw open
    for node in lab.nodes:
        assert role(lab, node)[0] == "Secondary"
        refused = lab.exec(node, ["mount", "/dev/drbd0", "/mnt"], check=False)
        assert refused.returncode != 0 and "/dev/drbd0" in refused.stderr, refused
        assert lab.exec(node, ["mount", "-o", "ro", "/dev/drbd0", "/mnt"], check=False).returncode != 0
        opened = lab.exec(node, ["sh", "-c", "exec 3</dev/drbd0"], check=False)
        assert opened.returncode != 0 and "No such device or address" in opened.stderr, opened
        assert lab.exec(node, ["test", "-b", "/dev/drbd0"], check=False).returncode == 0  # the minor still exists
    assert drbdadm(lab, "n1", "primary", "r0").returncode == 0
    lab.exec("n1", ["mount", "/dev/drbd0", "/mnt"])
    lab.exec("n1", ["sh", "-c", "echo from-n1 > /mnt/file && sync"])
    assert lab.exec("n2", ["mount", "/dev/drbd0", "/mnt"], check=False).returncode != 0  # n2 is Secondary
    lab.exec("n1", ["umount", "/mnt"])
    assert drbdadm(lab, "n1", "secondary", "r0").returncode == 0
    assert lab.exec("n1", ["mount", "/dev/drbd0", "/mnt"], check=False).returncode != 0  # demoted: closed again
    assert drbdadm(lab, "n2", "primary", "r0").returncode == 0
    lab.exec("n2", ["mount", "/dev/drbd0", "/mnt"])
    assert lab.exec("n2", ["cat", "/mnt/file"]).stdout == "from-n1\n"  # the same disk behind both
    lab.exec("n2", ["umount", "/mnt"])


def test_power_off_leaves_the_node_secondary_and_closed(lab: Lab) -> None:
    assert drbdadm(lab, "n2", "primary", "r0").returncode == 0
    lab.power_off("n2")
    lab.boot("n2")
    assert role(lab, "n2")[0] == "Secondary"
    assert lab.exec("n2", ["mount", "/dev/drbd0", "/mnt"], check=False).returncode != 0


def test_disk_size_is_an_option_and_sparse(new_lab) -> None:
    lab = new_lab(disk_mb=300)
    image = lab.layout.disk_image
    assert image.stat().st_size == 300 * 1024 * 1024
    assert image.stat().st_blocks * 512 < 64 * 1024 * 1024  # sparse: only what mkfs wrote takes space
    assert drbdadm(lab, "n1", "primary", "r0").returncode == 0
    lab.exec("n1", ["mount", "/dev/drbd0", "/mnt"])
    free_kb = int(lab.exec("n1", ["df", "--output=size", "-k", "/mnt"]).stdout.split()[-1])
    assert free_kb > 250 * 1024
    lab.exec("n1", ["umount", "/mnt"])


def test_default_disk_holds_a_small_database(lab: Lab) -> None:
    from hbd.lab.disk import SIZE_MB

    assert SIZE_MB >= 256 and lab.layout.disk_image.stat().st_size == SIZE_MB * 1024 * 1024
