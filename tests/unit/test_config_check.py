"""`hbd config check` and `hbd config show` through the dispatcher: output lines, summary and exit codes."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from hbd.cli.main import dispatch
from heartbeat_files import write_dir

SEED = Path(__file__).resolve().parent.parent / "data" / "seed001"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    rc = dispatch(list(argv))
    out = capsys.readouterr()
    return rc, out.out.splitlines(), out.err


@pytest.fixture
def seed_dir(tmp_path: Path) -> Path:
    work = tmp_path / "seed001"
    shutil.copytree(SEED, work)
    (work / "authkeys").chmod(0o600)  # git keeps no modes
    return work


@pytest.mark.parametrize("node", ["l0", "l1", "L0"])
def test_seed001_is_usable_on_both_nodes(capsys: pytest.CaptureFixture[str], seed_dir: Path, node: str) -> None:
    rc, lines, _ = run(capsys, "config", "check", "-c", str(seed_dir), "--node", node)
    assert rc == 0, lines
    assert not [ln for ln in lines if ": error: " in ln]
    assert lines[-1].startswith("0 errors and ") and f"local node {node.lower()}" in lines[-1]
    assert "(2 nodes, 1 medium, 1 resource group;" in lines[-1]
    # The seed was pasted from a web page: its non-breaking spaces are reported once, with a line.
    assert any(ln.startswith(f"{seed_dir}/ha.cf:3: warning: non-breaking space") for ln in lines)


def test_seed001_by_ha_cf_path(capsys: pytest.CaptureFixture[str], seed_dir: Path) -> None:
    rc, lines, _ = run(capsys, "config", "check", "-c", str(seed_dir / "ha.cf"), "--node", "l1")
    assert rc == 0, lines


def test_every_problem_is_printed_with_file_and_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    directory = write_dir(tmp_path, "keepalive 2s\nbcast eth0\nnode n1 n2\nlogfacility local9\n",
                          haresources="n1 httpd\ncarol mysql\n")
    rc, lines, _ = run(capsys, "config", "check", "-c", str(directory), "--node", "n1")
    assert rc == 1
    assert [ln.split(": error: ")[0] for ln in lines if ": error: " in ln] == [
        f"{directory}/ha.cf:1", f"{directory}/ha.cf:4", f"{directory}/haresources:2"]
    assert lines[-1] == "3 errors and 0 warnings: the configuration is not usable"


def test_warnings_are_printed_and_do_not_fail(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    directory = write_dir(tmp_path, "bcast lo\nnode n1 n2\nlogfacility daemon\nserial /dev/ttyS0\n")
    rc, lines, _ = run(capsys, "config", "check", "-c", str(directory), "--node", "n1")
    assert rc == 0
    warnings = [ln for ln in lines if ": warning: " in ln]
    assert f"{directory}/ha.cf:4: warning: serial is ignored: hbd has no serial media; this link is not used" in warnings
    assert sum("Deprecated 'legacy' auto_failback" in ln for ln in warnings) == 1
    assert lines[-1].startswith("0 errors and 4 warnings: ")


def test_absent_interface_is_an_error_on_this_node(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    here = os.uname().nodename.lower()
    directory = write_dir(tmp_path, f"bcast hbdnosuch0\nnode {here} n2\nlogfacility daemon\nauto_failback on\n",
                          haresources="# none\n")
    rc, lines, _ = run(capsys, "config", "check", "-c", str(directory), "--node", here)
    assert rc == 1
    assert lines[0] == (f"{directory}/ha.cf:1: error: bcast hbdnosuch0: there is no interface hbdnosuch0 "
                        f"on this node; the daemon cannot start here")


def test_node_local_checks_are_skipped_for_another_node(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    directory = write_dir(tmp_path, "bcast hbdnosuch0\nnode n1 n2\nlogfacility daemon\nauto_failback on\n")
    rc, lines, _ = run(capsys, "config", "check", "-c", str(directory), "--node", "n1")
    assert rc == 0, lines
    assert lines[-2].startswith("note: node-local checks (interfaces, scripts, DRBD resources) were not run: "
                                "this machine is ") and lines[-2].endswith(", not n1; run hbd config check on n1")


def test_show_prints_derived_values(capsys: pytest.CaptureFixture[str], seed_dir: Path) -> None:
    rc, lines, err = run(capsys, "config", "show", "-c", str(seed_dir), "--node", "l0")
    assert rc == 0
    values = dict(re.split(r"\s{2,}", ln, maxsplit=1) for ln in lines)
    assert (values["warntime"], values["initdead"], values["deadping"]) == ("1500ms", "12000ms", "3000ms")
    assert values["local node"] == "l0" and values["auth"] == "1 (sha1)" and values["medium"] == "bcast eth1 port 694"
    assert values["group 1"].startswith("l0: IPaddr2::192.168.1.100/24/eth1:0 drbddisk::r0")
    assert "warning: non-breaking space" in err


def test_help_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    rc, lines, _ = run(capsys, "config", "--help")
    assert rc == 0 and any("check" in ln for ln in lines)
    rc, lines, _ = run(capsys, "config", "check", "--help")
    assert rc == 0 and any("--node" in ln for ln in lines)
    assert run(capsys, "config")[0] == 2
    assert run(capsys, "config", "check", "--bogus")[0] == 2
    assert run(capsys, "config", "frobnicate")[0] == 2


def test_nonexistent_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, lines, _ = run(capsys, "config", "check", "-c", str(tmp_path / "nothing"))
    assert rc == 1 and lines[0] == f"{tmp_path / 'nothing'}: error: no such file or directory"


def test_problems_are_grouped_by_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # The interface check runs last, but its warning belongs with ha.cf's other problems.
    here = os.uname().nodename.lower()
    directory = write_dir(tmp_path, f"bcast hbdnosuch0\nnode {here} n2\nlogfacility daemon\n", haresources="# none\n")
    rc, lines, _ = run(capsys, "config", "check", "-c", str(directory), "--node", here)
    files = [ln.split(":")[0].rsplit("/", 1)[-1] for ln in lines[:-1]]
    assert rc == 1 and files == ["ha.cf"] * 4 + ["haresources"], lines
