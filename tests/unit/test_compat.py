"""The migration shims (hbd/cli/compat.py, etc/compat/*): each maps its arguments to the right hbd command or
to a reading of `hbd status`, passes the hbd command's exit code through, refuses what hbd cannot do with a
message and a non-zero exit, and never reports a move that did not happen."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hbd.cli import compat
from hbd.cli.compat import Handover, Reply, cl_status_reply, clustat_reply, clusvcadm_plan, handover_plan

REPO = Path(__file__).resolve().parents[2]


def status(**over: Any) -> dict[str, Any]:
    """n1's view: n1 runs db (preferred n1) and web (preferred n2); n2 runs mail (preferred n2)."""
    st: dict[str, Any] = {
        "node": "n1", "stable": True, "comm_up": True, "peer": {"node": "n2"},
        "nodes": [
            {"name": "n1", "status": "active", "local": True, "links": []},
            {"name": "n2", "status": "active", "local": False,
             "links": [{"name": "eth0", "up": True}, {"name": "eth1", "up": False}]},
        ],
        "groups": [
            {"key": "db", "preferred": "n1", "owner": "n1", "state": "running"},
            {"key": "web", "preferred": "n2", "owner": "n1", "state": "running"},
            {"key": "mail", "preferred": "n2", "owner": "n2", "state": "stopped"},
            {"key": "spare", "preferred": "n1", "owner": None, "state": "stopped"},
        ],
    }
    st.update(over)
    return st


def source(st: dict[str, Any] | int) -> Any:
    calls: list[int] = []

    def get() -> dict[str, Any] | int:
        calls.append(1)
        return st
    get.calls = calls  # type: ignore[attr-defined]
    return get


# --- hb_standby / hb_takeover ---------------------------------------------------------------------

@pytest.mark.parametrize(("argv", "which"), [([], "all"), (["all"], "all"), (["local"], "local"),
                                             (["foreign"], "foreign"), (["failback"], "failback")])
def test_hb_standby_and_takeover_map_to_hbd(argv: list[str], which: str) -> None:
    assert handover_plan("standby", argv) == Handover("standby", which)
    assert handover_plan("takeover", argv) == Handover("takeover", which)


def test_hb_standby_refuses_other_words() -> None:
    for argv in (["everything"], ["all", "local"], ["--help"]):
        plan = handover_plan("standby", argv)
        assert isinstance(plan, Reply) and plan.code == 2 and "usage: hb_standby" in plan.text


@pytest.mark.parametrize("code", [0, 1, 3])
def test_hb_standby_exits_with_hbd_standbys_code(monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    ran: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(compat.handover_cmd, "main", lambda kind, argv: ran.append((kind, argv)) or code)
    assert compat.hb_standby(["foreign"]) == code
    assert compat.hb_takeover([]) == code
    assert ran == [("standby", ["foreign"]), ("takeover", ["all"])]


# --- cl_status ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("argv", "text", "code"), [
    (["hbstatus"], "Heartbeat is running on this machine.", 0),
    (["listnodes"], "n1\nn2", 0),
    (["nodestatus", "n2"], "active", 0),
    (["listhblinks", "n2"], "\teth0\n\teth1", 0),
    (["hblinkstatus", "n2", "eth0"], "up", 0),
    (["hblinkstatus", "n2", "eth1"], "dead", 0),
    (["rscstatus"], "all", 0),
])
def test_cl_status_answers_in_heartbeats_words(argv: list[str], text: str, code: int) -> None:
    assert cl_status_reply(argv, source(status())) == Reply(text, code)


def test_cl_status_rscstatus_words() -> None:
    groups = status()["groups"]
    only = lambda *keys: [dict(g, owner="n1" if g["key"] in keys else "n2") for g in groups]  # noqa: E731
    assert cl_status_reply(["rscstatus"], source(status(groups=only("db")))).text == "local"
    assert cl_status_reply(["rscstatus"], source(status(groups=only("web")))).text == "foreign"
    assert cl_status_reply(["rscstatus"], source(status(groups=only()))).text == "none"
    assert cl_status_reply(["rscstatus"], source(status(stable=False))).text == "transition"


def test_cl_status_errors() -> None:
    assert cl_status_reply(["nodestatus", "n9"], source(status())).code == 1
    assert cl_status_reply(["hblinkstatus", "n2", "eth9"], source(status())).code == 1
    stopped = cl_status_reply(["hbstatus"], source(3))
    assert stopped == Reply("Heartbeat is stopped on this machine.", 3, out=True)
    assert cl_status_reply(["listnodes"], source(3)).code == 3
    for argv in ([], ["hbparameter", "-p", "deadtime"], ["nodestatus"], ["listnodes", "extra"]):
        get = source(status())
        reply = cl_status_reply(argv, get)
        assert reply.code == 2 and "usage: cl_status" in reply.text, argv
        assert get.calls == [], "a usage error asks the daemon nothing"


# --- clustat --------------------------------------------------------------------------------------

def test_clustat_lists_members_and_services() -> None:
    reply = clustat_reply([], source(status(nodes=[*status()["nodes"][:1],
                                                   {**status()["nodes"][1], "status": "dead"}])))
    assert reply.code == 0
    lines = reply.text.splitlines()
    assert "Member Status: Quorate" in lines
    assert any(line.split()[:3] == ["n1", "1", "Online,"] and "Local, rgmanager" in line for line in lines)
    assert any(line.split() == ["n2", "2", "Offline"] for line in lines)
    services = {line.split()[0]: line.split()[1:] for line in lines if line.startswith(" service:")}
    assert services == {"service:db": ["n1", "started"], "service:web": ["n1", "started"],
                        "service:mail": ["n2", "started"], "service:spare": ["(none)", "stopped"]}


def test_clustat_s_and_m_exit_codes() -> None:
    assert clustat_reply(["-s", "db"], source(status())).code == 0
    assert clustat_reply(["-s", "service:db"], source(status())).code == 0
    assert clustat_reply(["-s", "spare"], source(status())).code == 1
    assert clustat_reply(["-s", "nosuch"], source(status())).code == 1
    assert clustat_reply(["-m", "n2"], source(status())).code == 0
    assert clustat_reply(["-m", "n9"], source(status())).code == 1
    assert clustat_reply([], source(3)).code == 3
    assert clustat_reply(["-x"], source(status())).code == 2


# --- clusvcadm ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("argv", "plan"), [
    # db is the only group preferred by n1 and held by n1: `hbd-standby local` moves exactly it
    (["-r", "db"], Handover("standby", "local", "db", "n2")),
    (["-r", "service:db", "-m", "n2"], Handover("standby", "local", "db", "n2")),
    # web is the only group of n2's held here: `hbd-standby foreign`
    (["-r", "web"], Handover("standby", "foreign", "web", "n2")),
    # mail runs on n2: taking it here is `hbd-takeover foreign` (the peer's own groups)
    (["-r", "mail"], Handover("takeover", "foreign", "mail", "n1")),
    (["-r", "mail", "-m", "n1"], Handover("takeover", "foreign", "mail", "n1")),
])
def test_clusvcadm_relocate_maps_to_the_narrowest_hbd_move(argv: list[str], plan: Handover) -> None:
    assert clusvcadm_plan(argv, source(status())) == plan


def test_clusvcadm_relocate_refuses_to_move_more_than_asked() -> None:
    groups = [*status()["groups"], {"key": "db2", "preferred": "n1", "owner": "n1", "state": "running"}]
    plan = clusvcadm_plan(["-r", "db"], source(status(groups=groups)))
    assert isinstance(plan, Reply) and plan.code == 1
    assert "would also move" in plan.text and "db2" in plan.text


@pytest.mark.parametrize(("argv", "code", "words"), [
    (["-r", "db", "-m", "n1"], 1, "already running on n1"),
    (["-r", "db", "-m", "n7"], 1, "'n7' not in membership list"),
    (["-r", "spare"], 1, "runs nowhere"),
    (["-r", "nosuch"], 1, "Service does not exist"),
    (["-e", "db"], 0, "already running on n1"),
    (["-e", "mail"], 1, "runs on n2; enabling does not move it"),
    (["-e", "mail", "-m", "n2"], 0, "already running on n2"),
    (["-e", "spare"], 1, "cannot be enabled by hand"),
])
def test_clusvcadm_replies(argv: list[str], code: int, words: str) -> None:
    plan = clusvcadm_plan(argv, source(status()))
    assert isinstance(plan, Reply) and plan.code == code and words in plan.text, plan


@pytest.mark.parametrize("op", ["-d", "-R", "-s", "-Z", "-U", "-M", "-c", "-l", "-u", "-S"])
def test_clusvcadm_refuses_what_hbd_cannot_do(op: str) -> None:
    get = source(status())
    plan = clusvcadm_plan([op, "db"] if op not in ("-l", "-u", "-S") else [op], get)
    assert isinstance(plan, Reply) and plan.code == 1 and "not supported" in plan.text
    # -d/-R/-Z/-U read the status once (a cluster.conf daemon maps them to hbd svc); nothing is done
    assert get.calls == ([1] if op in ("-d", "-R", "-Z", "-U") else [])


def test_clusvcadm_usage_and_no_daemon() -> None:
    for argv in ([], ["-r"], ["-r", "db", "-x", "n2"], ["-r", "db", "-m"], ["--bogus", "db"]):
        plan = clusvcadm_plan(argv, source(status()))
        assert isinstance(plan, Reply) and plan.code == 2, argv
    plan = clusvcadm_plan(["-r", "db"], source(3))
    assert isinstance(plan, Reply) and plan.code == 3


def test_a_relocation_is_checked_before_it_is_reported(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    plan = Handover("standby", "local", "db", "n2")
    monkeypatch.setattr(compat.handover_cmd, "main", lambda kind, argv: 0)
    moved = status(groups=[{"key": "db", "preferred": "n1", "owner": "n2", "state": "stopped"}])
    assert compat.finish("clusvcadm", plan, lambda prog: moved) == 0
    assert "service:db is now running on n2" in capsys.readouterr().out
    # hbd-standby said 0 but the status disagrees: not reported as done
    assert compat.finish("clusvcadm", plan, lambda prog: status()) == 1
    assert "runs on n1, not n2" in capsys.readouterr().err
    monkeypatch.setattr(compat.handover_cmd, "main", lambda kind, argv: 1)
    assert compat.finish("clusvcadm", plan, lambda prog: moved) == 1


def test_every_shim_script_runs_its_own_shim() -> None:
    scripts = sorted(p.name for p in (REPO / "etc" / "compat").iterdir())
    assert scripts == sorted(compat.SHIMS)
    for name in scripts:
        path = REPO / "etc" / "compat" / name
        assert os.access(path, os.X_OK), name
        assert f'main("{name}")' in path.read_text()
    # run one for real: usage error without a daemon, exit 2, nothing asked
    done = subprocess.run([sys.executable, str(REPO / "etc" / "compat" / "clusvcadm")], capture_output=True,
                          text=True, timeout=30, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 2 and "usage: clusvcadm" in done.stderr, done.stderr


def test_the_package_installs_the_shims_off_path() -> None:
    install = (REPO / "debian" / "hbd.install").read_text().split("\n")
    assert "etc/compat/* usr/lib/hbd/compat/" in install


def test_every_shim_is_documented_and_shipped_with_its_documentation() -> None:
    migration = (REPO / "doc" / "migration.md").read_text()
    readme = (REPO / "README.md").read_text()
    for name in compat.SHIMS:
        assert f"`{name}" in migration and f"`{name}`" in readme, name
    assert "doc/migration.md" in (REPO / "debian" / "hbd.docs").read_text().split()
