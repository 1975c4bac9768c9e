"""`hbd test` command line: forms, usage errors, Heartbeat groups, real-execution runner, rules and tree dumps."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

import hbd.agents.executor as executor
from hbd.cli import test_cmd
from tests.unit.rg_test_helpers import run_hbd_test

DATA = Path(__file__).resolve().parent.parent / "data" / "cluster"
SEED = DATA / "seed-004.conf"
GROUP = "IPaddr2::192.0.2.100/24/eth1:0"
GROUP_LINE = f"n1 {GROUP} drbddisk::r0 Filesystem::/dev/drbd0::/mnt/drbd::ext3 mysqld-max linkserv mon\n"


@pytest.fixture
def ha_dir(tmp_path: Path) -> Path:
    (tmp_path / "ha.cf").write_text("keepalive 1\ndeadtime 10\nbcast eth1\nauto_failback off\nnode n1\nnode n2\n")
    (tmp_path / "haresources").write_text(GROUP_LINE + "n2 192.0.2.101 httpd\n")
    return tmp_path


def test_heartbeat_group_start_prints_resources_left_to_right(ha_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_hbd_test(capsys, "noop", "start", "service", GROUP, "-c", str(ha_dir), "--node", "n1")
    assert run.rc == 0, run.err
    assert run.err == "Running in test mode.\n"
    assert run.out == (
        f"Starting {GROUP}...\n[start] {GROUP}\n[start] drbddisk::r0\n"
        "[start] Filesystem::/dev/drbd0::/mnt/drbd::ext3\n[start] mysqld-max\n[start] linkserv\n[start] mon\n"
        f"Start of {GROUP} complete\n"
    )


def test_heartbeat_group_by_line_number_stops_right_to_left(ha_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_hbd_test(capsys, "noop", "stop", "service", "2", "-c", str(ha_dir), "--node", "n1")
    assert run.rc == 0
    assert run.out == "Stopping 192.0.2.101...\n[stop] httpd\n[stop] 192.0.2.101\nStop of 192.0.2.101 complete\n"


def test_unknown_heartbeat_group(ha_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_hbd_test(capsys, "noop", "start", "service", "3", "-c", str(ha_dir), "--node", "n1")
    assert (run.rc, run.out) == (1, "No resource 3 of type service found\n")


def test_unknown_cluster_target_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_hbd_test(capsys, "noop", "start", "vm", "database", "-c", str(SEED))
    assert (run.rc, run.out) == (1, "No resource database of type vm found\n")


def test_any_type_can_be_targeted(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_hbd_test(capsys, "noop", "stop", "drbd", "dbdev", "-c", str(SEED))
    assert run.out == "Stopping dbdev...\n[stop] fs:dbfs\n[stop] drbd:dbdev\nStop of dbdev complete\n"


def test_target_by_unique_required_attribute(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_hbd_test(capsys, "noop", "start", "fs", "/var/lib/pgsql/clusterdata", "-c", str(SEED))
    assert run.out == "Starting /var/lib/pgsql/clusterdata...\n[start] fs:dbfs\nStart of /var/lib/pgsql/clusterdata complete\n"


def test_status_lists_only_agents_with_a_polled_status(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_hbd_test(capsys, "noop", "status", "service", "dbnode", "-c", str(SEED))
    assert run.rc == 0
    assert run.out.splitlines() == [
        "Checking status of dbnode...", "[status] service:dbnode", "[status] ip:10.80.4.200/22",
        "[status] drbd:dbdev", "[status] fs:dbfs", "Status of dbnode is good"]


@pytest.mark.parametrize("argv", [[], ["noop"], ["noop", "start", "service"], ["bogus", "a", "b", "c"],
                                  ["noop", "start", "service", "x", "--frob"], ["noop", "start", "service", "x", "-c"]])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    run = run_hbd_test(capsys, *argv)
    assert run.rc == 2
    assert "usage: hbd test noop|test start|stop|status TYPE NAME" in run.err
    assert run.out == ""


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_hbd_test(capsys, "--help")
    assert run.rc == 0 and run.out.startswith("usage: hbd test")


def test_missing_config_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hbd.cli.main import _run

    rc = _run(["test", "noop", "start", "service", "x", "-c", str(tmp_path / "nope.conf")])
    err = capsys.readouterr().err
    assert rc == 1 and "no such file or directory" in err and "Traceback" not in err


def fake_executor(monkeypatch: pytest.MonkeyPatch, failing_type: str) -> list[str]:
    """Replace the agents' run_step: record each step's resource, fail the steps of one type."""
    ran: list[str] = []

    def run_step(step: object) -> bool:
        ran.append(step.node.ident)  # type: ignore[attr-defined]
        return step.node.type != failing_type  # type: ignore[attr-defined]

    monkeypatch.setattr(executor, "run_step", run_step)
    return ran


@pytest.mark.parametrize("op,service,failing,ran_expected,rc,out", [
    # a failed start ends the walk
    ("start", "database", "drbd", ["service:database", "service:dbnode", "ip:10.80.4.200/22", "drbd:dbdev"],
     1, "Starting database...\nFailed to start database\n"),
    # a failed stop does not: the rest is still stopped, and there is no completion line
    ("stop", "dbnode", "fs", ["fs:dbfs", "drbd:dbdev", "ip:10.80.4.200/22", "service:dbnode"],
     1, "Stopping dbnode...\n"),
    # real execution prints no plan lines of its own (the agents print what they do)
    ("start", "dbms", "none", ["service:dbms", "script:postgresql"], 0, "Starting dbms...\nStart of dbms complete\n"),
])
def test_test_mode_runs_steps_through_the_executor(
        op: str, service: str, failing: str, ran_expected: list[str], rc: int, out: str,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    ran = fake_executor(monkeypatch, failing)
    run = run_hbd_test(capsys, "test", op, "service", service, "-c", str(SEED), "--force")
    assert ran == ran_expected
    assert (run.rc, run.out) == (rc, out)


def test_test_mode_without_agents(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def missing(name: str) -> object:
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(test_cmd.importlib, "import_module", missing)
    run = run_hbd_test(capsys, "test", "start", "service", "database", "-c", str(SEED), "--force")
    assert run.rc == 1 and "needs hbd.agents.executor" in run.err and run.out == ""


def test_test_mode_refuses_without_force_when_it_cannot_ask(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    ran = fake_executor(monkeypatch, "none")
    run = run_hbd_test(capsys, "test", "start", "service", "dbms", "-c", str(SEED))  # stdin is not a terminal
    assert (run.rc, run.out, ran) == (1, "", [])
    assert "Add --force to go ahead." in run.err


@pytest.mark.parametrize("answer,ran_expected", [("y\n", ["service:dbms", "script:postgresql"]), ("\n", [])])
def test_test_mode_asks_on_a_terminal(answer: str, ran_expected: list[str], monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal(answer))
    ran = fake_executor(monkeypatch, "none")
    run = run_hbd_test(capsys, "test", "start", "service", "dbms", "-c", str(SEED))
    assert ran == ran_expected and "Go ahead? [y/N]" in run.err


def test_rules_dump(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_hbd_test(capsys, "rules")
    assert run.rc == 0
    assert run.err == "Running in rules mode.\nLoaded 23 resource rules\n"
    block = run.out.split('Resource Rules for "service"\n', 1)[1].split("\n\n", 1)[0].splitlines()
    assert block[:6] == ["Max instances: 1", "Agent: service.sh", "Flags: init_on_add destroy_on_delete",
                         "Attributes:", "  name [ primary unique required ]", "  domain [ reconfig ]"]
    assert "  lvm [ startlevel = 1 stoplevel = 9 ] " in block
    assert '  nfslock [ inherit ] default="service%nfslock"' in run.out
    assert "  nfsclient (forbidden)" in run.out


def test_tree_dump_with_failover_domains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "cluster.conf"
    conf.write_text(SEED.read_text().replace(
        "<resources />",
        '<failoverdomains><failoverdomain name="pg" ordered="1" restricted="1">'
        '<failoverdomainnode name="node1" priority="2"/><failoverdomainnode name="node0" priority="1"/>'
        "</failoverdomain></failoverdomains><resources />"))
    run = run_hbd_test(capsys, "tree", "-c", str(tmp_path))
    assert run.rc == 0
    assert run.out.endswith("=== Failover Domains ===\nFailover domain: pg\nFlags: Ordered Restricted\n"
                            "  Node node1 (id 2, priority 2)\n  Node node0 (id 1, priority 1)\n")
