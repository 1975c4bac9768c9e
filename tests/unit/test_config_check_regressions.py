"""Regression test of issue 9's bug 9 through the command line as it existed before the fix (63408b7):
`hbd config check` called "usable" configurations the daemon then refused or that could not work. Each
case must now be an error (exit 1) or a warning, on a line naming the file and the line. It fails by
assertion on the tree before the fix (dev/check_regressions.py checks that); tests/unit/test_config_runnable.py
keeps config check and the daemon's refusal list in step."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from hbd.cli.main import dispatch
from heartbeat_files import write_dir

HERE = os.uname().nodename.lower()  # node-local checks (interfaces, scripts) run when the node is this machine
TAIL = "keepalive 1\ndeadtime 10\nlogfacility daemon\nauto_failback on\n"
CLUSTER_CONF = Path(__file__).resolve().parent.parent / "data" / "cluster" / "seed-004.conf"


@dataclass(frozen=True)
class Case:
    name: str
    hacf: str
    haresources: str
    where: str  # "FILE:LINE" the problem line must name
    text: str  # a part of the reason


ERRORS = [
    Case("one node", f"bcast lo\nnode {HERE}\n" + TAIL, "# none\n", "ha.cf:2", "exactly two nodes"),
    Case("three nodes", f"bcast lo\nnode {HERE}\nnode n2\nnode n3\n" + TAIL, "# none\n", "ha.cf:2",
         "exactly two nodes"),
    Case("mcast6", f"mcast6 lo ff02::1:2 694 1 0\nnode {HERE} n2\n" + TAIL, "# none\n", "ha.cf:1",
         "not supported"),
    Case("ucast6", f"ucast6 lo 2001:db8::2\nnode {HERE} n2\n" + TAIL, "# none\n", "ha.cf:1", "not supported"),
    Case("IPv4 address .300", f"bcast lo\nnode {HERE} n2\n" + TAIL, f"\n{HERE} IPaddr2::192.0.2.300/24\n",
         "haresources:2", "192.0.2.300"),
    Case("drbddisk without a name", f"bcast lo\nnode {HERE} n2\n" + TAIL, f"{HERE} drbddisk\n", "haresources:1",
         "DRBD resource name"),
    Case("medium on an interface this node lacks", f"bcast hbdnosuch9\nnode {HERE} n2\n" + TAIL, "# none\n",
         "ha.cf:1", "no interface hbdnosuch9"),
    Case("address on an interface this node lacks", f"bcast lo\nnode {HERE} n2\n" + TAIL,
         f"{HERE} IPaddr2::192.0.2.50/24/hbdnosuch9\n", "haresources:1", "no interface hbdnosuch9"),
]

WARNINGS = [
    Case("LSB script that does not exist", f"bcast lo\nnode {HERE} n2\n" + TAIL, f"{HERE} hbd-no-such-script\n",
         "haresources:1", "hbd-no-such-script"),
    Case("drbddisk naming an undefined DRBD resource", f"bcast lo\nnode {HERE} n2\n" + TAIL,
         f"{HERE} drbddisk::r9\n", "haresources:1", "r9 is not defined"),
]


@pytest.fixture(autouse=True)
def drbd_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This node's DRBD configuration defines r0 only (where hbd reads one: it did not before the fix)."""
    conf = tmp_path / "drbd.d"
    conf.mkdir()
    (conf / "r0.res").write_text("resource r0 {\n  device /dev/drbd0 minor 0;\n}\n")
    try:
        from hbd.config import runnable
    except ImportError:
        return
    monkeypatch.setattr(runnable, "DRBD_CONFIG", (tmp_path / "drbd.conf", conf))


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    rc = dispatch(["config", "check", *argv])
    return rc, capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("case", ERRORS, ids=lambda c: c.name)
def test_config_check_refuses_what_the_daemon_cannot_run(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                         case: Case) -> None:
    directory = write_dir(tmp_path, case.hacf, haresources=case.haresources)
    rc, lines = check(capsys, "-c", str(directory), "--node", HERE)
    errors = [ln for ln in lines if f"{directory}/{case.where}: error: " in ln]
    assert rc == 1 and lines[-1].endswith("the configuration is not usable"), lines
    assert errors and case.text in errors[0], lines


def test_config_check_refuses_a_cluster_conf_the_daemon_cannot_run(capsys: pytest.CaptureFixture[str]) -> None:
    rc, lines = check(capsys, "-c", str(CLUSTER_CONF))
    assert rc == 1 and any(f"{CLUSTER_CONF}" in ln and ": error: " in ln for ln in lines), lines


@pytest.mark.parametrize("case", WARNINGS, ids=lambda c: c.name)
def test_config_check_warns_of_what_cannot_work_on_this_node(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                             case: Case) -> None:
    directory = write_dir(tmp_path, case.hacf, haresources=case.haresources)
    rc, lines = check(capsys, "-c", str(directory), "--node", HERE)
    warnings = [ln for ln in lines if f"{directory}/{case.where}: warning: " in ln]
    assert rc == 0 and warnings and case.text in warnings[0], lines
