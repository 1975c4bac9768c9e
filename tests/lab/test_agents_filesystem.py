"""Filesystem on a real kernel: an ext4 loop device mounted and unmounted in a private mount namespace
(so nothing leaks to the host), holders ended TERM then KILL, a missing device after a bounded wait."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.agent_sandbox import LoopDisk, agents_cmd, loop_disk, results

pytestmark = pytest.mark.lab


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[LoopDisk]:
    with loop_disk(tmp_path) as made:
        yield made


def mounted(script_output: str, marker: str) -> list[str]:
    """Mountpoints printed by a `grep` of mountinfo after a MARKER line in a scenario's output."""
    lines = script_output.split(f"=={marker}==\n", 1)[1].split("==", 1)[0]
    return [line.split()[4] for line in lines.splitlines() if line.strip()]


def test_mount_and_unmount(disk: LoopDisk, tmp_path: Path) -> None:
    mnt = tmp_path / "mnt"
    res = disk.in_private_mounts(f"""
        {agents_cmd("Filesystem", disk.device, str(mnt), "ext4", "start,status")}
        echo ==mounted==; grep " {mnt} " /proc/self/mountinfo; echo ==
        {agents_cmd("Filesystem", disk.device, str(mnt), "ext4", "stop,status")}
        echo ==after==; grep " {mnt} " /proc/self/mountinfo; echo ==
    """)
    assert [r["outcome"] for r in results(res.stdout)] == ["running", "running", "stopped", "stopped"]
    assert mounted(res.stdout, "mounted") == [str(mnt)]
    assert mounted(res.stdout, "after") == []
    start = results(res.stdout)[0]
    assert start["actions"][-1].startswith(f"mounting {disk.device} on {mnt}: mount -t ext4 {disk.device} {mnt}: rc=0")


def test_ext2_is_checked_before_mounting(tmp_path: Path) -> None:
    with loop_disk(tmp_path) as disk:
        mnt = tmp_path / "mnt"
        res = disk.in_private_mounts(f"""
            mkfs.ext2 -q -F {disk.device}
            {agents_cmd("Filesystem", disk.device, str(mnt), "ext2", "start,stop")}
        """)
    start, stop = results(res.stdout)
    assert start["outcome"] == "running" and stop["outcome"] == "stopped"
    assert any(a.startswith(f"fsck -p {disk.device}: fsck -p -t ext2 {disk.device}: rc=0") for a in start["actions"])


def test_busy_mount_is_freed_by_ending_its_holders(disk: LoopDisk, tmp_path: Path) -> None:
    mnt = tmp_path / "mnt"
    holder_ignoring_term = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                            f"f = open('{mnt}/held'); print('holding', flush=True); time.sleep(60)")
    res = disk.in_private_mounts(f"""
        {agents_cmd("Filesystem", disk.device, str(mnt), "ext4", "start")}
        touch {mnt}/held
        (cd {mnt} && exec sleep 60) & polite=$!
        python3 -c "{holder_ignoring_term}" > {tmp_path}/holder.out & stubborn=$!
        for i in $(seq 100); do grep -q holding {tmp_path}/holder.out 2>/dev/null && break; sleep 0.05; done
        {agents_cmd("Filesystem", disk.device, str(mnt), "ext4", "stop")}
        echo ==after==; grep " {mnt} " /proc/self/mountinfo; echo ==
        kill -0 $polite 2>/dev/null && echo polite-alive
        kill -0 $stubborn 2>/dev/null && echo stubborn-alive
        wait
        echo "{{\\"pids\\": [$polite, $stubborn]}}"
    """)
    stop = results(res.stdout)[1]
    pids = results(res.stdout)[2]["pids"]
    assert stop["outcome"] == "stopped", stop
    assert mounted(res.stdout, "after") == []
    assert "polite-alive" not in res.stdout and "stubborn-alive" not in res.stdout
    term = [a for a in stop["actions"] if a.startswith("sent SIGTERM")]
    kill = [a for a in stop["actions"] if a.startswith("sent SIGKILL")]
    assert term and all(str(p) in term[0] for p in pids)
    assert kill and str(pids[1]) in kill[0] and str(pids[0]) not in kill[0]
    assert "target is busy" in stop["actions"][0]


def test_busy_mount_without_force_unmount_fails_and_stays(disk: LoopDisk, tmp_path: Path) -> None:
    mnt = tmp_path / "mnt"
    code = ("from hbd.agents.filesystem import Filesystem, FsSpec; import json; "
            f"a = Filesystem(FsSpec('{disk.device}', '{mnt}', 'ext4', force_unmount=False)); "
            "r = a.call('stop'); print(json.dumps({'outcome': r.outcome.value, 'reason': r.reason}))")
    res = disk.in_private_mounts(f"""
        {agents_cmd("Filesystem", disk.device, str(mnt), "ext4", "start")}
        (cd {mnt} && exec sleep 60) & holder=$!
        sleep 0.1
        {sys.executable} -c "{code}"
        echo ==after==; grep " {mnt} " /proc/self/mountinfo; echo ==
        kill $holder
    """)
    outcome = results(res.stdout)[1]
    assert outcome == {"outcome": "failed", "reason": f"cannot unmount {mnt} (force_unmount is off)"}
    assert mounted(res.stdout, "after") == [str(mnt)]


def test_missing_device_fails_after_the_bounded_wait(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-device"
    res = LoopDisk("", tmp_path / "none").in_private_mounts(
        agents_cmd("Filesystem", str(missing), str(tmp_path / "mnt"), "ext4", "start"))
    (start,) = results(res.stdout)
    assert res.returncode == 1 and start["outcome"] == "failed"
    assert start["reason"] == f"device {missing} did not appear within 5s"
    assert 5.0 <= start["duration_s"] < 7.0
    assert not (tmp_path / "mnt").exists()


def test_a_device_appearing_during_the_wait_is_used(disk: LoopDisk, tmp_path: Path) -> None:
    late, mnt = tmp_path / "late-device", tmp_path / "mnt"
    # The device node appears 1 s after the timer is set, while start waits for it. The wait begins a little
    # after the timer (constructing the agent, the call), so the time waited is under 1 s but never 0.
    code = ("import json, os, threading, time; from hbd.agents.filesystem import Filesystem, FsSpec; "
            f"threading.Timer(1.0, os.symlink, ('{disk.device}', '{late}')).start(); "
            f"a = Filesystem(FsSpec('{late}', '{mnt}', 'ext4')); "
            "r = [a.call(op) for op in ('start', 'stop')]; "
            "print(json.dumps({'r': [[x.outcome.value, list(x.actions)] for x in r]}))")
    res = disk.in_private_mounts(f'{sys.executable} -c "{code}"')
    start, stop = results(res.stdout)[0]["r"]
    assert start[0] == "running" and stop[0] == "stopped", res.stdout + res.stderr
    waited = [a for a in start[1] if a.startswith("waited ")]
    assert waited and 0.0 < float(waited[0].split()[1].rstrip("s")) < 5.0, start


def test_resource_d_filesystem_speaks_like_heartbeats_wrapper(disk: LoopDisk, tmp_path: Path) -> None:
    exe = f"{sys.executable} {Path(__file__).resolve().parents[2] / 'resource.d' / 'Filesystem'}"
    mnt = tmp_path / "mnt"
    ops = ["status", "start", "status", "stop", "status"]
    res = disk.in_private_mounts("\n".join(
        f"{exe} {disk.device} {mnt} ext4 {op} > {tmp_path}/{i}.out; echo $?" for i, op in enumerate(ops))
        + f"\n{exe} {disk.device} start > {tmp_path}/usage.out; echo $?")
    codes = res.stdout.split()
    last = [(tmp_path / f"{i}.out").read_text().splitlines()[-1] for i in range(len(ops))]
    assert list(zip(codes, last)) == [("7", "INFO:  Resource is stopped"), ("0", "INFO:  Success"),
                                      ("0", "INFO:  Running OK"), ("0", "INFO:  Success"),
                                      ("7", "INFO:  Resource is stopped")]
    assert codes[-1] == "1"
    assert (tmp_path / "usage.out").read_text().splitlines() == [
        "ERROR: device and directory expected",
        f"usage: {exe.split()[1]} <device> <directory> [<fstype> [<options>]] (start|stop|status)"]
