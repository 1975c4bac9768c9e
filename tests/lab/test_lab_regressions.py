"""Regression tests of issue 9's bug 10 (the lab) through interfaces that existed before the fix (d2bf334):
`hbd lab up` / `hbd lab exec` / `hbd lab down` on the command line and Lab.up / Lab.exec / Lab.processes.
`hbd lab exec --timeout` killed only nsenter and left the command's processes running; the drbdadm
emulator let a Secondary be mounted; the shared disk was fixed at 32 MB (PostgreSQL's initdb did not fit).
They fail by assertion on the tree before the fix (dev/check_regressions.py checks that)."""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time

import pytest
from test_lab_cli import hbd, name  # noqa: F401 (the `name` fixture: a unique lab name, removed afterwards)

from hbd.lab import Lab

pytestmark = pytest.mark.lab


def sleepers(lab: Lab, node: str, marker: str) -> list[int]:
    """Pids of the node's processes whose command line contains `marker`."""
    found = []
    for pid in lab.processes(node):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append(pid)
    return found


def gone_within(lab: Lab, node: str, marker: str, seconds: float) -> list[int]:
    """Wait (bounded) for the node's `marker` processes to go; the ones still there."""
    end = time.monotonic() + seconds
    while (left := sleepers(lab, node, marker)) and time.monotonic() < end:
        time.sleep(0.05)
    return left


def test_exec_timeout_leaves_none_of_the_commands_processes(name: str) -> None:
    assert hbd("lab", "up", "--name", name, "--media", "1").returncode == 0
    lab = Lab.attach(name)
    # Output to a file, not a pipe: a pipe held open by a leftover process would hide what the CLI did.
    with tempfile.TemporaryFile() as out:
        cli = subprocess.Popen([sys.executable, "-m", "hbd.cli.main", "lab", "exec", "--name", name, "--timeout",
                                "1", "n1", "--", "sh", "-c", "sleep 341 & sleep 342 & sh -c 'sleep 343' & wait"],
                               stdout=out, stderr=subprocess.STDOUT)
        try:
            rc: int | None = cli.wait(timeout=20)
        except subprocess.TimeoutExpired:
            cli.kill()
            cli.wait(timeout=10)
            rc = None
        left = gone_within(lab, "n1", "sleep 34", 2.0)
        out.seek(0)
        said = out.read().decode(errors="replace").strip()
    assert left == [], f"still running after the timeout: {left} (exit {rc}: {said})"
    assert rc is not None and rc != 0, f"hbd lab exec --timeout 1: exit {rc}: {said}"
    with pytest.raises(Exception, match="timed out"):  # the library's exec takes the children too
        lab.exec("n1", ["sh", "-c", "sleep 344 & sleep 345; wait"], timeout=0.5)
    assert gone_within(lab, "n1", "sleep 34", 2.0) == []
    assert hbd("lab", "down", name).returncode == 0


def test_a_secondary_cannot_be_mounted(lab: Lab) -> None:
    mounted = lab.exec("n1", ["mount", "/dev/drbd0", "/mnt"], check=False)  # both nodes boot Secondary
    if mounted.returncode == 0:
        lab.exec("n1", ["umount", "/mnt"], check=False)
    assert mounted.returncode != 0, "a Secondary's /dev/drbd0 was mounted read-write"
    assert lab.exec("n1", ["drbdadm", "primary", "r0"], check=False).returncode == 0
    lab.exec("n1", ["mount", "/dev/drbd0", "/mnt"])  # the Primary can
    lab.exec("n1", ["umount", "/mnt"])


def test_lab_up_disk_size_is_an_option_and_sparse(name: str) -> None:
    up = hbd("lab", "up", "--name", name, "--media", "1", "--disk-mb", "300")
    assert up.returncode == 0, up.stderr
    image = Lab.attach(name).layout.disk_image
    assert image.stat().st_size == 300 * 1024 * 1024
    assert image.stat().st_blocks * 512 < 64 * 1024 * 1024  # sparse: only what mkfs wrote takes space
    assert hbd("lab", "down", name).returncode == 0


def test_default_shared_disk_holds_a_small_database(name: str) -> None:
    assert hbd("lab", "up", "--name", name, "--media", "1").returncode == 0
    default_mb = Lab.attach(name).layout.disk_image.stat().st_size // (1024 * 1024)
    assert default_mb >= 256, f"default shared disk {default_mb} MB: too small for initdb and a small database"
    assert hbd("lab", "down", name).returncode == 0
