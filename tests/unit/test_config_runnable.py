"""`hbd config check` and the daemon refuse the same configurations, with the same file, line and reason.

Every rule of hbd.config.runnable (REFUSALS and NODE_CHECKS) has a case here; a rule added without a case
fails test_every_rule_has_a_case, so the daemon's refusal list and config check cannot drift apart.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from hbd.cli.main import dispatch
from hbd.config import load, runnable
from hbd.errors import ConfigError, Problem
from hbd.runtime.daemon import Daemon, Options, check_runnable
from heartbeat_files import write_dir

HERE = os.uname().nodename.lower()  # node-local checks run when the local node is this machine
TAIL = "keepalive 1\ndeadtime 10\nlogfacility daemon\nauto_failback on\n"
RULE = Callable[..., list[Problem]]


@dataclass(frozen=True)
class Case:
    name: str
    hacf: str
    haresources: str
    file: str  # which file the problem names
    line: int | None
    text: str  # a part of the reason
    rule: RULE


REFUSED = [
    Case("one node", f"bcast lo\nnode {HERE}\n" + TAIL, "# none\n", "ha.cf", 2,
         "exactly two nodes (node lines name 1", runnable.refuse_node_count),
    Case("three nodes", f"bcast lo\nnode {HERE}\nnode n2\nnode n3\n" + TAIL, "# none\n", "ha.cf", 2,
         "exactly two nodes (node lines name 3", runnable.refuse_node_count),
    Case("mcast6", f"mcast6 lo ff02::1:2 694 1 0\nnode {HERE} n2\n" + TAIL, "# none\n", "ha.cf", 1,
         "medium mcast6 lo is not supported by hbd yet", runnable.refuse_media),
    Case("ucast6", f"ucast6 lo 2001:db8::2\nnode {HERE} n2\n" + TAIL, "# none\n", "ha.cf", 1,
         "medium ucast6 lo is not supported by hbd yet", runnable.refuse_media),
    Case("address .300", f"bcast lo\nnode {HERE} n2\n" + TAIL, f"\n{HERE} IPaddr2::192.0.2.300/24\n", "haresources",
         2, "resource IPaddr2::192.0.2.300/24: '192.0.2.300' is not an IPv4 or IPv6 address",
         runnable.refuse_bad_arguments),
    Case("bare address .300", f"bcast lo\nnode {HERE} n2\n" + TAIL, f"{HERE} 192.0.2.300\n", "haresources", 1,
         "'192.0.2.300' is not an IPv4", runnable.refuse_bad_arguments),
    Case("drbddisk without a name", f"bcast lo\nnode {HERE} n2\n" + TAIL, f"{HERE} drbddisk\n", "haresources", 1,
         "resource drbddisk: drbddisk: a single DRBD resource name is required", runnable.refuse_bad_arguments),
    Case("no such interface", f"bcast hbdnosuch9\nnode {HERE} n2\n" + TAIL, "# none\n", "ha.cf", 1,
         "bcast hbdnosuch9: there is no interface hbdnosuch9 on this node", runnable.missing_interfaces),
    Case("every medium a ucast to this node", f"ucast lo 127.0.0.1\nucast lo 127.0.0.2\nnode {HERE} n2\n" + TAIL,
         "# none\n", "ha.cf", 1, "no medium sends from this node: every medium is a ucast to this node's own "
         "address (127.0.0.1, 127.0.0.2)", runnable.media_that_cannot_send),
    Case("address on no such interface", f"bcast lo\nnode {HERE} n2\n" + TAIL,
         f"{HERE} IPaddr2::192.0.2.50/24/hbdnosuch9\n", "haresources", 1,
         "there is no interface hbdnosuch9 on this node", runnable.missing_interfaces),
]

WARNED = [
    Case("LSB script not installed", f"bcast lo\nnode {HERE} n2\n" + TAIL, f"{HERE} hbd-no-such-script\n",
         "haresources", 1, "on this node: Cannot locate resource script hbd-no-such-script",
         runnable.missing_scripts_and_resources),
    Case("undefined DRBD resource", f"bcast lo\nnode {HERE} n2\n" + TAIL, f"{HERE} drbddisk::r9\n", "haresources",
         1, "DRBD resource r9 is not defined", runnable.missing_scripts_and_resources),
]


def test_every_rule_has_a_case() -> None:
    covered = {case.rule for case in REFUSED + WARNED} | {runnable.refuse_cluster_conf}
    assert covered == set(runnable.REFUSALS) | set(runnable.NODE_CHECKS)


@pytest.fixture(autouse=True)
def drbd_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This node's DRBD configuration defines r0 only."""
    conf = tmp_path / "drbd.d"
    conf.mkdir()
    (conf / "r0.res").write_text("resource r0 {\n  device /dev/drbd0 minor 0;\n}\n")
    monkeypatch.setattr(runnable, "DRBD_CONFIG", (tmp_path / "drbd.conf", conf))


def config_check(capsys: pytest.CaptureFixture[str], directory: Path) -> tuple[int, list[str]]:
    rc = dispatch(["config", "check", "-c", str(directory), "--node", HERE])
    return rc, capsys.readouterr().out.splitlines()


def daemon_refusal(directory: Path, tmp_path: Path) -> list[Problem]:
    cfg = load(directory, HERE)
    opts = Options(directory, HERE, tmp_path / "sock", tmp_path / "state")
    with pytest.raises(ConfigError) as refused:
        Daemon(cfg, opts)
    return refused.value.errors


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.name)
def test_daemon_refuses_and_config_check_says_so(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                 case: Case) -> None:
    directory = write_dir(tmp_path, case.hacf, haresources=case.haresources)
    (error,) = daemon_refusal(directory, tmp_path)
    assert (Path(error.file).name, error.line) == (case.file, case.line) and case.text in error.text, error
    rc, lines = config_check(capsys, directory)
    assert rc == 1, lines
    assert str(error) in lines  # the very line the daemon gives, file and line included
    assert lines[-1].endswith("the configuration is not usable")


SEED_DIR = Path(__file__).resolve().parent.parent / "data" / "cluster"


def seed_copy(tmp_path: Path, key: bool = True, edit: Callable[[str], str] = lambda text: text) -> Path:
    path = tmp_path / "cluster.conf"
    path.write_text(edit((SEED_DIR / "seed-004.conf").read_text()))
    if key:
        (tmp_path / "authkeys").write_text("auth 1\n1 sha256 0123456789abcdef\n")
        (tmp_path / "authkeys").chmod(0o600)
    return path


def test_seed_004_without_a_key_is_refused_by_both(capsys: pytest.CaptureFixture[str]) -> None:
    path = SEED_DIR / "seed-004.conf"
    with pytest.raises(ConfigError) as refused:
        check_runnable(load(path))
    (error,) = refused.value.errors
    assert error.text.split(" (")[0] == f"no key file {SEED_DIR / 'authkeys'}"  # seed 004 has none
    rc = dispatch(["config", "check", "-c", str(path)])
    lines = capsys.readouterr().out.splitlines()
    assert rc == 1 and str(error) in lines


def test_seed_004_with_a_key_is_usable_for_both(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = seed_copy(tmp_path)
    warnings = check_runnable(load(path))  # the daemon's check: no error; on this machine the script and the
    assert [w.text.split(":")[0] for w in warnings if not w.text.startswith("on this node")] == [
        'two_node="1" without fencing']  # DRBD resource of the seed are missing (warnings: it cannot start here)
    rc = dispatch(["config", "check", "-c", str(path)])
    lines = capsys.readouterr().out.splitlines()
    assert rc == 0 and lines[-1].endswith("is usable"), lines


@pytest.mark.parametrize("edit, text", [
    (lambda t: t.replace("</rm>", '<vm name="guest1"/></rm>'),
     '<vm name="guest1">: hbd runs <service> trees only (not vm)'),
    (lambda t: t.replace("</clusternodes>", "".join(
        f'<clusternode nodeid="{i}" name="node{i}" votes="1"/>' for i in range(3, 7)) + "</clusternodes>").replace(
        'two_node="1" expected_votes="1"', ""),
     "6 <clusternode>s: hbd runs services on at most 5 nodes"),
    (lambda t: t.replace('address="10.80.4.200/22"', 'address="10.80.4.300/22"'),
     "resource 10.80.4.300/22: '10.80.4.300' is not an IPv4"),
], ids=["vm", "six nodes", "bad address"])
def test_what_the_cluster_daemon_does_not_run_is_refused_by_both(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, edit: Callable[[str], str], text: str) -> None:
    path = seed_copy(tmp_path, edit=edit)
    with pytest.raises(ConfigError) as refused:
        check_runnable(load(path))
    errors = refused.value.errors
    assert any(text in e.text for e in errors), errors
    rc = dispatch(["config", "check", "-c", str(path)])
    lines = capsys.readouterr().out.splitlines()
    assert rc == 1 and all(str(e) in lines for e in errors), lines


@pytest.mark.parametrize("case", WARNED, ids=lambda c: c.name)
def test_what_cannot_work_here_is_a_warning_of_both(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                    case: Case) -> None:
    directory = write_dir(tmp_path, case.hacf, haresources=case.haresources)
    warnings = [p for p in check_runnable(load(directory, HERE)) if p.severity == "warning"]
    (warning,) = warnings
    assert (Path(warning.file).name, warning.line) == (case.file, case.line) and case.text in warning.text
    daemon = Daemon(load(directory, HERE), Options(directory, HERE, tmp_path / "sock", tmp_path / "state"))
    assert warning in daemon.warnings  # logged at every start
    rc, lines = config_check(capsys, directory)
    assert rc == 0 and str(warning) in lines
    assert f"note: node-local checks (interfaces, scripts, DRBD resources) were run on this node ({HERE})" in lines


def test_defined_drbd_resource_and_builtin_agents_pass(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    directory = write_dir(tmp_path, f"bcast lo\nnode {HERE} n2\n" + TAIL,
                          haresources=f"{HERE} IPaddr2::192.0.2.50/24/lo drbddisk::r0 Filesystem::/dev/drbd0::/srv::ext4\n")
    assert check_runnable(load(directory, HERE)) == []
    rc, lines = config_check(capsys, directory)
    assert rc == 0 and not [ln for ln in lines if ": error: " in ln or ": warning: " in ln], lines


def test_no_drbd_configuration_at_all_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runnable, "DRBD_CONFIG", (tmp_path / "none.conf", tmp_path / "none.d"))
    directory = write_dir(tmp_path, f"bcast lo\nnode {HERE} n2\n" + TAIL, haresources=f"{HERE} drbddisk::r0\n")
    (warning,) = check_runnable(load(directory, HERE))
    assert warning.severity == "warning" and "no DRBD configuration" in warning.text


def test_ping_is_used_without_a_warning(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    directory = write_dir(tmp_path, f"bcast lo\nnode {HERE} n2\nping 192.0.2.254\nping_group gw 192.0.2.1\n" + TAIL,
                          haresources="# none\n")
    rc, lines = config_check(capsys, directory)
    assert rc == 0
    assert not any(":3:" in ln or ":4:" in ln for ln in lines), lines
