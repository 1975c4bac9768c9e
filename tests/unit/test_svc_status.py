"""Services in `hbd status` (text and --json schema), clustat and clusvcadm with a cluster.conf daemon: the
status a cluster.conf daemon answers (its `quorum` and `services` blocks, doc/status-schema.md) rendered
like clustat, and clusvcadm's operations carried out by `hbd svc` against a stand-in daemon."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from hbd.cli import compat, status_cmd
from hbd.core.service_states import ServiceState
from hbd.core.service_outcome import AdminResult
from hbd.core.service_table import AdminOp, AdminRequest, DisabledBy, Entry
from hbd.runtime import control_messages as cm
from test_svc_cmd import Cluster, cluster  # noqa: F401 (the fixture)

DOC = Path(__file__).resolve().parents[2] / "doc"


def service(name: str, entry: Entry, **over: Any) -> dict[str, Any]:
    """One entry of `services`, as the cluster.conf daemon writes it from the service table."""
    shown_owner, shown_state = entry.shown
    row = {"name": name, "state": entry.state.value, "owner": entry.owner, "last_owner": entry.last_owner,
           "shown_owner": shown_owner, "shown_state": shown_state, "frozen": entry.frozen, "enabled": entry.enabled,
           "disabled_by": entry.disabled_by.name.lower() if entry.disabled_by else None, "local": "stopped",
           "pending": False, "restarts": 0, "failures": 0, "last_failure": None, "resources": []}
    row.update(over)
    return row


def cluster_status(**over: Any) -> dict[str, Any]:
    st: dict[str, Any] = {
        "schema": 1, "version": "0.1.0", "node": "n1", "pid": 42, "uptime_s": 30.0, "config": "/etc/cluster",
        "phase": "running", "stable": True, "comm_up": True,
        "nodes": [{"name": n, "status": s, "local": n == "n1", "age_s": None if n == "n1" else 0.2,
                   "deadtime_ms": 10000, "links": [] if n == "n1" else [{"name": "eth0", "up": s != "dead"}]}
                  for n, s in (("n1", "active"), ("n2", "active"), ("n3", "dead"))],
        "groups": [], "busy": None, "peer": None, "standby": None, "config_differs": [],
        "transitions": [{"time": "10:00:00", "text": "service:database started on n1", "monotonic": 3.5}],
        "heartbeat": {"accepted": {"n2": 10}, "rejected": {}, "send_errors": 0, "timer_lag_max_ms": 1.0,
                      "timer_lag_ms": {}, "gc_pause_max_ms": 0.0, "gc_pause_ms": {}, "gc_collections": {},
                      "read_late": 0},
        "quorum": {"quorate": True, "members": ["n1", "n2"], "total_votes": 2, "expected_votes": 3, "quorum": 2},
        "services": [
            service("database", Entry(placement="n1", go=True, owner="n1", last_owner="n2",
                                      state=ServiceState.STARTED), local="started", restarts=1, failures=2,
                    last_failure={"resource": "script:db", "reason": "status exit 7", "time": "2026-12-07 10:00:01",
                                  "age_s": 12.5},
                    resources=[{"resource": "ip:192.0.2.50", "state": "running"},
                               {"resource": "script:db", "state": "running"}]),
            service("web", Entry(placement="n2", go=True, owner="n2", frozen=True, state=ServiceState.STARTED)),
            service("batch", Entry(enabled=False, last_owner="n2", state=ServiceState.DISABLED,
                                   disabled_by=DisabledBy.RECOVERY)),
            service("spare", Entry(enabled=False, state=ServiceState.DISABLED, disabled_by=DisabledBy.AUTOSTART)),
        ],
    }
    st.update(over)
    return st


def test_status_text_shows_quorum_and_services_like_clustat() -> None:
    text = status_cmd.format_status(cluster_status())
    lines = text.splitlines()
    assert "quorum: quorate (2 of 3 expected votes, 2 needed); members: n1 n2" in lines
    assert "groups:" not in lines and "(none configured)" not in text
    rows = {line.split()[0]: line.split(None, 2)[1:] for line in lines if line.startswith("  service:")}
    assert rows == {"service:database": ["n1", "started"], "service:web": ["n2", "started [Z]"],
                    "service:batch": ["(n2)", "disabled  (disabled by its recovery policy)"],
                    "service:spare": ["(none)", "disabled  (autostart is off)"]}
    at = lines.index(next(line for line in lines if line.startswith("  service:database")))
    assert lines[at + 1].split() == ["ip:192.0.2.50:", "running"]
    assert lines[at + 3].split(";")[0].split() == ["restarts", "1,", "fail", "count", "2"]
    assert "last failure 2026-12-07 10:00:01: script:db: status exit 7" in lines[at + 3]
    lost = status_cmd.format_status(cluster_status(quorum={**cluster_status()["quorum"], "quorate": False},
                                                   services=[]))
    assert "quorum: NOT quorate" in lost and "services:\n  (none configured)" in lost


def test_a_haresources_status_shows_no_services() -> None:
    st = cluster_status(groups=[{"key": "db", "preferred": "n1", "owner": "n1", "state": "running"}])
    del st["quorum"], st["services"]
    text = status_cmd.format_status(st)
    assert "services:" not in text and "quorum:" not in text and "groups:" in text


def test_the_cluster_status_follows_the_documented_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (setup.cfg test extra)")
    validator = jsonschema.Draft202012Validator(json.loads((DOC / "status.schema.json").read_text()))
    assert [e.message for e in validator.iter_errors(cluster_status())] == []
    assert list(validator.iter_errors(cluster_status(phase="starting"))) == []  # before the start-up stop ends
    lane = {"plan": "fence_ipmilan", "running": None, "attempts": 0, "last": "none"}
    assert list(validator.iter_errors(cluster_status(fencing={"n2": lane, "n3": lane}))) == []
    assert list(validator.iter_errors(cluster_status(fencing={"n2": {**lane, "attempts": -1}})))
    assert list(validator.iter_errors(cluster_status(fencing={})))
    for mutate in (lambda s: s["services"][0].update(state="running"),
                   lambda s: s["services"][0].pop("last_owner"),
                   lambda s: s["services"][1].update(shown_state="started [Q]"),
                   lambda s: s["services"][2].update(disabled_by="RECOVERY"),
                   lambda s: s["services"][0].update(restarts=-1),
                   lambda s: s["quorum"].update(quorate="yes"),
                   lambda s: s["services"][0]["resources"].append({"resource": ""})):
        bad = copy.deepcopy(cluster_status())
        mutate(bad)
        assert list(validator.iter_errors(bad)), "a status off the schema must be refused"


# --- clustat / clusvcadm ----------------------------------------------------------------------------

def source(st: dict[str, Any] | int) -> Any:
    return lambda: st


def test_clustat_shows_the_services() -> None:
    reply = compat.clustat_reply([], source(cluster_status()))
    assert reply.code == 0
    lines = reply.text.splitlines()
    assert "Member Status: Quorate" in lines
    rows = {line.split()[0]: line.split(None, 2)[1:] for line in lines if line.startswith(" service:")}
    assert rows == {"service:database": ["n1", "started"], "service:web": ["n2", "started [Z]"],
                    "service:batch": ["(n2)", "disabled"], "service:spare": ["(none)", "disabled"]}
    inquorate = cluster_status(quorum={**cluster_status()["quorum"], "quorate": False})
    assert "Member Status: Inquorate" in compat.clustat_reply([], source(inquorate)).text
    assert compat.clustat_reply(["-s", "service:database"], source(cluster_status())).code == 0
    assert compat.clustat_reply(["-s", "batch"], source(cluster_status())).code == 1
    assert compat.clustat_reply(["-s", "nosuch"], source(cluster_status())).code == 1


@pytest.mark.parametrize("argv, wanted", [
    (["-e", "database"], cm.ServiceAdminRequest(AdminOp.ENABLE, "database")),
    (["-e", "service:database", "-m", "n2"], cm.ServiceAdminRequest(AdminOp.ENABLE, "database", "n2")),
    (["-d", "database"], cm.ServiceAdminRequest(AdminOp.DISABLE, "database")),
    (["-r", "database", "-m", "n2"], cm.ServiceAdminRequest(AdminOp.RELOCATE, "database", "n2")),
    (["-R", "database"], cm.ServiceAdminRequest(AdminOp.RESTART, "database")),
    (["-Z", "web"], cm.ServiceAdminRequest(AdminOp.FREEZE, "web")),
    (["-U", "web"], cm.ServiceAdminRequest(AdminOp.UNFREEZE, "web")),
])
def test_clusvcadm_maps_onto_hbd_svc_with_cluster_conf(argv: list[str], wanted: cm.ServiceAdminRequest) -> None:
    assert compat.clusvcadm_plan(argv, source(cluster_status())) == compat.ServiceCall(wanted)


@pytest.mark.parametrize("argv", [["-d", "database", "-m", "n2"], ["-R", "db", "-m"], ["-e", "x" * 300]])
def test_clusvcadm_usage_with_cluster_conf(argv: list[str]) -> None:
    plan = compat.clusvcadm_plan(argv, source(cluster_status()))
    assert isinstance(plan, compat.Reply) and plan.code == 2


def test_clusvcadm_runs_and_reports_in_its_words(cluster: tuple[Path, Cluster], monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path, fake = cluster
    monkeypatch.setattr(compat, "DEFAULT_SOCKET", path)
    plan = compat.clusvcadm_plan(["-r", "db", "-m", "n2"], source(cluster_status()))
    assert compat.finish("clusvcadm", plan) == 0
    assert capsys.readouterr().out == "Trying to relocate service:db to n2...Success\nservice:db is now running on n2\n"
    assert fake.table()["db"].owner == "n2"
    plan = compat.clusvcadm_plan(["-r", "db", "-m", "n3"], source(cluster_status()))
    assert compat.finish("clusvcadm", plan) == 1
    err = capsys.readouterr().err
    assert err.startswith("Trying to relocate service:db to n3...Target node is outside the service's restricted")
    assert fake.table()["db"].owner == "n2"
    assert compat.finish("clusvcadm", compat.clusvcadm_plan(["-d", "web"], source(cluster_status()))) == 0
    assert capsys.readouterr().out == "Local machine disabling service:web...Success\n"


def test_the_service_drivers_own_status_renders_and_validates(tmp_path: Path) -> None:
    """The producer (runtime/service_driver.py's `quorum` and `services`) and this renderer and schema agree."""
    import asyncio

    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (setup.cfg test extra)")
    validator = jsonschema.Draft202012Validator(json.loads((DOC / "status.schema.json").read_text()))
    from test_service_driver import two_nodes

    async def run() -> None:
        _, _, n1, n2 = await two_nodes(tmp_path)
        st = cluster_status(**n1.driver.status())
        assert [e.message for e in validator.iter_errors(st)] == []
        lines = status_cmd.format_status(st).splitlines()
        assert any(line.split()[:3] == ["service:database", "n1", "started"] for line in lines), lines
        assert "quorum: quorate" in "\n".join(lines)
        done = await n1.driver.admin(AdminRequest(AdminOp.DISABLE, "database"), 10)
        assert done.result is AdminResult.DONE, done
        text = status_cmd.format_status(cluster_status(**n1.driver.status()))
        assert "(disabled by the administrator)" in text
        for n in (n1, n2):
            n.driver.close()
    asyncio.run(run())
