"""`hbd lab` from the command line, and clean-up after Ctrl-C and after a run killed with -9."""
from __future__ import annotations

import os
import secrets
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hbd.errors import LabError
from hbd.lab import Lab
from hbd.lab.cleanup import remove_by_name, traces

pytestmark = pytest.mark.lab


def hbd(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hbd.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def name() -> Iterator[str]:
    """A unique lab name; whatever a test leaves under it is removed afterwards."""
    lab_name = "hblt" + secrets.token_hex(3)
    try:
        yield lab_name
    finally:
        remove_by_name(lab_name)


def test_up_status_exec_and_down(name: str) -> None:
    up = hbd("lab", "up", "--name", name)
    assert up.returncode == 0, up.stderr
    status = hbd("lab", "status", name)
    assert status.returncode == 0
    for text in (f"{name}-n1", "192.0.2.11 198.51.100.11", "192.0.2.12 198.51.100.12", "192.0.2.100",
                 "eth0=192.0.2.0/24", "eth1=198.51.100.0/24"):
        assert text in status.stdout, text
    for node in ("n1", "n2"):
        assert hbd("lab", "exec", "--name", name, node, "--", "hostname").stdout == f"{node}\n"
        code = f"import socket;print(socket.create_connection(('{Lab.attach(name).address(node)}',7777),2).recv(9).decode(),end='')"
        answer = hbd("lab", "exec", "--name", name, "client", "--", sys.executable, "-c", code)
        assert answer.stdout == f"{node}\n", answer.stderr
    assert hbd("lab", "exec", "--name", name, "n1", "--", "sh", "-c", "exit 3").returncode == 3
    assert hbd("lab", "down", name).returncode == 0
    assert traces(name) == []
    assert hbd("lab", "status", name).returncode == 1


def test_faults_and_boot_from_the_command_line(name: str) -> None:
    assert hbd("lab", "up", "--name", name, "--media", "1").returncode == 0
    assert hbd("lab", "fault", "--name", name, "cut", "n1", "--how", "filter").returncode == 0
    assert hbd("lab", "fault", "--name", name, "power-off", "n2").returncode == 0
    status = hbd("lab", "status", name).stdout
    assert "n1 eth0 cut (filter)" in status and "powered off" in status
    assert Lab.attach(name).processes("n2") == []
    assert hbd("lab", "boot", "--name", name, "n2").returncode == 0
    assert len(Lab.attach(name).processes("n2")) >= 2
    bad = hbd("lab", "fault", "--name", name, "cut", "n7")
    assert bad.returncode == 2 and "no node 'n7'" in bad.stderr


def test_ctrl_c_tears_the_lab_down(name: str) -> None:
    # SIGINT's default handler set again: a shell without job control starts background commands with SIGINT
    # ignored, and Python then installs no KeyboardInterrupt handler (make test run as `make test &` did)
    script = (f"import signal, time\nfrom hbd.lab import Lab\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
              f"with Lab.up(name='{name}'):\n    print('up', flush=True)\n    time.sleep(60)\n")
    # -X faulthandler: if the tear-down hangs, SIGABRT makes the child print every thread's stack
    proc = subprocess.Popen([sys.executable, "-X", "faulthandler", "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert select.select([proc.stdout], [], [], 30)[0] and proc.stdout.readline() == "up\n"
    assert traces(name)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        _, err = proc.communicate(timeout=10)
        raise AssertionError(f"the lab was not down 30 s after ctrl-c; traces {traces(name)}; child's stderr:\n{err}")
    assert "KeyboardInterrupt" in err
    assert traces(name) == []


def test_down_removes_what_a_killed_run_left(name: str) -> None:
    script = f"import os\nfrom hbd.lab import Lab\nlab = Lab.up(name='{name}')\nos.kill(os.getpid(), 9)\n"
    assert subprocess.run([sys.executable, "-c", script], timeout=60).returncode == -9
    assert any(t.startswith("netns") for t in traces(name))
    out = hbd("lab", "down", "--leftovers")
    assert out.returncode == 0 and f"removed lab {name}" in out.stdout
    assert traces(name) == []


def test_down_leaves_labs_of_live_runs_alone(name: str, lab: Lab) -> None:
    out = hbd("lab", "down", "--leftovers")
    assert out.returncode == 0
    assert lab.name not in out.stdout
    assert lab.exec("n1", ["hostname"]).stdout == "n1\n"
    assert os.path.exists(lab.layout.state_file)


def node_commands(lab: Lab, node: str, needle: str) -> list[int]:
    found = []
    for pid in lab.processes(node):
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmdline:
            found.append(pid)
    return found


def test_exec_timeout_kills_every_process_the_command_started(name: str) -> None:
    assert hbd("lab", "up", "--name", name, "--media", "1").returncode == 0
    lab = Lab.attach(name)
    ran = hbd("lab", "exec", "--name", name, "--timeout", "1", "n1", "--",
              "sh", "-c", "sleep 301 & sleep 302 & sh -c 'sleep 303' & wait")
    assert ran.returncode == 124, ran
    assert "killed after 1 s" in ran.stderr and "still there" not in ran.stderr
    assert node_commands(lab, "n1", "sleep 30") == []
    # the library's exec: a timeout takes the command's children too
    with pytest.raises(LabError, match="timed out"):
        lab.exec("n1", ["sh", "-c", "sleep 304 & sleep 305; wait"], timeout=0.5)
    assert node_commands(lab, "n1", "sleep 30") == []
    assert hbd("lab", "down", name).returncode == 0


@pytest.mark.parametrize("argv", [
    ["lab", "down", "../hbltx"], ["lab", "down", "hbl0/../../etc"], ["lab", "down", "hblok\n"],
    ["lab", "status", "../x"], ["lab", "exec", "--name", "../x", "n1", "--", "true"],
    ["lab", "fault", "--name", "/tmp", "freeze", "n1"], ["lab", "boot", "--name", "..", "n1"],
    ["lab", "up", "--name", "../hbl1"],
])
def test_lab_names_are_never_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> None:
    outside = tmp_path / "hbltx"
    outside.mkdir()
    (outside / "keep").write_text("precious")
    base = tmp_path / "labs"
    base.mkdir()
    monkeypatch.setenv("HBD_LAB_DIR", str(base))
    out = subprocess.run([sys.executable, "-m", "hbd.cli.main", *argv], capture_output=True, text=True, timeout=30,
                         cwd=base)
    assert out.returncode == 2 and "lab name" in out.stderr and "Traceback" not in out.stderr, out
    assert (outside / "keep").read_text() == "precious"
    with pytest.raises(ValueError):
        remove_by_name("../hbltx")
