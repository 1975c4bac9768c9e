"""`hbd svc` end to end without a lab: the CLI talks to a control socket whose stand-in daemon runs the request
on real service cores (three nodes, messages delivered at once), waits with AdminWait, and answers with
ServiceAdminReply, as the cluster.conf daemon does. Output, exit codes and "nothing changes" on a refusal."""
from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from hbd.cli import main as hbd_main, svc_cmd
from hbd.core import service_events as e
from hbd.core.service_model import Domain, DomainMember, ServiceSpec
from hbd.core.service_outcome import AdminResult, AdminWait
from hbd.core.service_table import AdminOp, AdminRequest
from hbd.runtime import control_messages as cm
from hbd.runtime.control import ControlServer
from service_fakes import catalog
from test_service_outcome import WatchedNet

RESTRICTED = Domain("pair", True, True, False, (DomainMember("n1", 1), DomainMember("n2", 2)))


class Cluster:
    """n1's daemon in a cluster of n1, n2, n3 (n3 down when `three` is off); db restricted to n1 and n2."""

    def __init__(self, three: bool = True):
        self.net = WatchedNet(catalog(ServiceSpec("db", domain=RESTRICTED), ServiceSpec("web"), nodes=3))
        self.net.form({"n1", "n2", "n3"} if three else {"n1", "n2"})
        self.net.settle()
        self.hang = False  # the resource agents never finish: the wait must end by its timeout
        self.seen: list[Any] = []

    def table(self) -> dict[str, Any]:
        table = self.net.cores["n1"].table()
        assert table is not None
        return table

    async def handle(self, request: Any) -> dict[str, Any]:
        self.seen.append(request)
        assert isinstance(request, cm.ServiceAdminRequest)
        net = self.net
        admin = AdminRequest(request.op, request.service, request.target)
        net.watcher, net.outcomes = "n1", []
        net.wait = AdminWait(admin, self.table().get(request.service))
        net.ids += 1
        net.request_id = net.ids
        net.feed("n1", e.AdminRequested(net.ids, admin))
        if not self.hang:
            net.settle()
        outcome = net.outcomes[0] if net.outcomes else net.wait.timed_out(self.table())
        return cm.ServiceAdminReply.of(request, outcome).wire()


@pytest.fixture
def cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Path, Cluster]]:
    path = tmp_path / "hbd.sock"
    fake = Cluster(three=getattr(request, "param", True))
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    server = ControlServer(path, fake.handle, cm.decode)

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(5)
    try:
        yield path, fake
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def svc(path: Path, *argv: str) -> int:
    return svc_cmd.main([*argv, "--socket", str(path)])


def test_relocate_to_a_node_waits_until_it_runs_there(cluster: tuple[Path, Cluster],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path, fake = cluster
    assert fake.table()["db"].owner == "n1"
    assert svc(path, "relocate", "db", "-m", "n2") == 0
    assert capsys.readouterr().out == "service:db is now running on n2\n"
    assert fake.table()["db"].owner == "n2"
    assert fake.seen[-1] == cm.ServiceAdminRequest(AdminOp.RELOCATE, "db", "n2", cm.SERVICE_TIMEOUT_S)
    assert svc(path, "relocate", "service:db") == 0  # clusvcadm's spelling; no -m: the other member
    assert capsys.readouterr().out == "service:db is now running on n1\n"


@pytest.mark.parametrize("argv, words", [
    (["relocate", "nosuch"], "service:nosuch: relocate refused: Service does not exist; nothing changed"),
    (["relocate", "db", "-m", "n3"], "outside the service's restricted failover domain; nothing changed"),
    (["enable", "web", "-m", "n9"], "Target node is not a cluster member; nothing changed"),
    (["restart", "nosuch"], "Service does not exist"),
])
def test_a_refusal_is_exit_1_and_changes_nothing(cluster: tuple[Path, Cluster], capsys: pytest.CaptureFixture[str],
                                                argv: list[str], words: str) -> None:
    path, fake = cluster
    before = fake.table()
    assert svc(path, *argv) == 1
    out = capsys.readouterr()
    assert out.out == "" and words in out.err
    assert fake.table() == before


@pytest.mark.parametrize("cluster", [False], indirect=True)
def test_a_node_that_is_down_is_refused(cluster: tuple[Path, Cluster], capsys: pytest.CaptureFixture[str]) -> None:
    path, fake = cluster
    before = fake.table()
    assert svc(path, "relocate", "web", "-m", "n3") == 1
    assert "Target node dead / nonexistent; nothing changed" in capsys.readouterr().err
    assert fake.table() == before


def test_disable_enable_freeze_restart(cluster: tuple[Path, Cluster], capsys: pytest.CaptureFixture[str]) -> None:
    path, fake = cluster
    assert svc(path, "disable", "web") == 0
    assert capsys.readouterr().out == "service:web is disabled\n"
    assert fake.table()["web"].owner is None and not fake.table()["web"].enabled
    assert svc(path, "enable", "web", "-m", "n3") == 0
    assert capsys.readouterr().out == "service:web is now running on n3\n"
    assert svc(path, "freeze", "web") == 0
    assert capsys.readouterr().out == "service:web is frozen on n3\n"
    assert svc(path, "relocate", "web") == 1
    assert "Service is frozen" in capsys.readouterr().err
    assert svc(path, "unfreeze", "web") == 0
    assert svc(path, "restart", "web") == 0
    assert capsys.readouterr().out.endswith("service:web is now running on n3\n")
    assert fake.table()["web"].generation == 2  # one disable, one restart: each a new generation


def test_no_outcome_in_time_is_exit_4(cluster: tuple[Path, Cluster], capsys: pytest.CaptureFixture[str]) -> None:
    path, fake = cluster
    fake.hang = True
    target = "n3" if fake.table()["web"].owner != "n3" else "n1"
    assert svc(path, "relocate", "web", "-m", target, "--timeout", "3") == 4
    err = capsys.readouterr().err
    assert "service:web: relocate accepted, but not done within 3 s (now stopping on" in err
    assert "see hbd status" in err


def test_not_running_is_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert svc(tmp_path / "none.sock", "enable", "db") == 3
    assert "not running" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["bogus", "db"], ["disable", "db", "-m", "n2"], ["restart"], ["enable", "db", "--timeout", "0"],
    ["enable", "db", "--timeout", "601"], ["enable", "x" * 300], ["enable", "db", "-m", "n\t2"],
])
def test_bad_arguments_are_usage_errors_before_anything_is_sent(tmp_path: Path, argv: list[str],
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        svc(tmp_path / "none.sock", *argv)  # no daemon: a request sent would be exit 3
    assert done.value.code == 2
    assert "usage: hbd svc" in capsys.readouterr().err


def test_help_names_every_operation_and_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        svc_cmd.main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for op in svc_cmd.OPS:
        assert op in text
    assert "exit codes: 0 done; 1 refused, nothing changed" in " ".join(text.split())
    with pytest.raises(SystemExit):
        svc_cmd.main(["relocate", "--help"])
    assert "-m NODE, --member NODE" in capsys.readouterr().out
    assert "svc" in hbd_main._usage()


@pytest.mark.parametrize("answer, result", [
    ({"ok": True, "text": "service:db is now running on n2", "refusal": None, "timed_out": False}, AdminResult.DONE),
    ({"ok": False, "text": "x", "refusal": "NO_SUCH_SERVICE", "timed_out": False}, AdminResult.REFUSED),
    ({"ok": False, "text": "x", "refusal": None, "timed_out": True}, AdminResult.TIMED_OUT),
    ({"ok": False, "text": "service:db failed", "refusal": None, "timed_out": False}, AdminResult.FAILED),
    ({"ok": False, "error": "bad request: svc: unknown key(s) x"}, AdminResult.UNAVAILABLE),
    ({"ok": False, "result": "unavailable", "text": "not joined yet"}, AdminResult.UNAVAILABLE),
    ({"ok": False, "result": "nonsense", "text": "?"}, AdminResult.UNAVAILABLE),
])
def test_every_daemon_answer_maps_to_one_result(answer: dict[str, Any], result: AdminResult) -> None:
    reply = cm.ServiceAdminReply.from_wire(answer)
    assert reply.result is result and reply.text
    assert svc_cmd.EXIT[result] == {AdminResult.DONE: 0, AdminResult.REFUSED: 1, AdminResult.UNAVAILABLE: 1,
                                    AdminResult.FAILED: 4, AdminResult.TIMED_OUT: 4}[result]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(AdminOp)), st.text(min_size=1, max_size=30).filter(str.isprintable),
       st.none() | st.text(min_size=1, max_size=10).filter(str.isprintable), st.floats(0.5, 600))
def test_the_request_round_trips_through_the_control_wire(op: AdminOp, service: str, target: str | None,
                                                          timeout: float) -> None:
    if op not in (AdminOp.ENABLE, AdminOp.RELOCATE):
        target = None
    request = cm.ServiceAdminRequest(op, service, target, timeout)
    assert cm.decode(json.loads(json.dumps(cm.encode(request)))) == request


@pytest.mark.parametrize("wire, words", [
    ({"cmd": "svc", "service": "db"}, "unknown operation"),
    ({"cmd": "svc", "op": "migrate", "service": "db"}, "unknown operation 'migrate'"),
    ({"cmd": "svc", "op": "enable"}, "service"),
    ({"cmd": "svc", "op": "freeze", "service": "db", "node": "n2"}, "only with enable and relocate"),
    ({"cmd": "svc", "op": "enable", "service": "db", "extra": 1}, "unknown key(s) extra"),
    ({"cmd": "svc", "op": "enable", "service": "db", "timeout": -1}, "timeout"),
])
def test_malformed_service_requests_are_refused(wire: dict[str, Any], words: str) -> None:
    with pytest.raises(cm.BadRequest) as err:
        cm.decode(wire)
    assert words in str(err.value)
