"""DRBD resource-level fencing: the promotion guard, the outdate exchange over the heartbeat media, and the
lab emulator's outdate and fence-peer semantics (DRBD 8.4's exit codes)."""
from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest
from agent_fakes import FakeDrbd

from hbd.agents.base import Outcome
from hbd.agents.drbddisk import Drbddisk, refusal
from hbd.lab import drbd_state as st
from hbd.lab.drbd_fence_peer import fencing_config, record
from hbd.lab.drbdadm import Facts, apply
from hbd.runtime.outdate_service import REPLY, REQUEST, OutdateService, outdate_here


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDrbd:
    fake = FakeDrbd(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    return fake


def agent(tmp_path: Path) -> Drbddisk:
    return Drbddisk("r0", sleep=lambda s: None, force_dir=tmp_path)


# --- the promotion guard ---------------------------------------------------------------------------

@pytest.mark.parametrize("disk,cstate,why", [
    ("Outdated", "WFConnection", "the peer outdated it when the replication link was lost"),
    ("Inconsistent", "Connected", "a resync to it has not finished"),
    ("UpToDate", "StandAlone", "its connection is StandAlone (dropped after a split brain"),
])
def test_the_guard_refuses_and_says_why(fake: FakeDrbd, tmp_path: Path, disk: str, cstate: str, why: str) -> None:
    fake.set(disk=disk, cstate=cstate)
    result = agent(tmp_path).call("start")
    assert result.outcome is Outcome.FAILED and why in result.reason
    assert f"touch {tmp_path}/drbd-force-r0" in result.reason
    assert "primary" not in fake.state["calls"]


def test_an_up_to_date_connected_or_waiting_disk_is_promoted(fake: FakeDrbd, tmp_path: Path) -> None:
    assert refusal("r0", "UpToDate", "WFConnection") is None and refusal("r0", "UpToDate", None) is None
    fake.set(cstate="WFConnection")
    assert agent(tmp_path).call("start").outcome is Outcome.RUNNING
    assert "--force" not in fake.state["calls"]


def test_a_forced_promotion_is_one_shot(fake: FakeDrbd, tmp_path: Path) -> None:
    fake.set(disk="Outdated", cstate="WFConnection")
    (tmp_path / "drbd-force-r0").touch()
    result = agent(tmp_path).call("start")
    assert result.outcome is Outcome.RUNNING and "--force" in fake.state["calls"]
    assert any("forced by" in a for a in result.actions)
    assert not (tmp_path / "drbd-force-r0").exists()
    fake.set(role="Secondary", calls=[])
    assert agent(tmp_path).call("start").outcome is Outcome.FAILED  # the next one is guarded again


# --- the outdate exchange --------------------------------------------------------------------------

def completed(rc: int, out: str = "") -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess([], rc, out, "")


@pytest.mark.parametrize("outdate_rc,role,disk,word", [
    (0, "Secondary/Unknown", "Outdated/DUnknown", "outdated"),
    (17, "Primary/Unknown", "UpToDate/DUnknown", "primary"),
    (11, "Secondary/Secondary", "Inconsistent/UpToDate", "inconsistent"),
    (10, "Unconfigured", "", "failed"),
])
def test_the_peer_side_answers_what_drbdadm_outdate_found(outdate_rc: int, role: str, disk: str, word: str) -> None:
    def run(argv: list[str], **kw: object) -> subprocess.CompletedProcess:
        verb = argv[1]
        return completed(outdate_rc) if verb == "outdate" else completed(0, role if verb == "role" else disk)
    assert outdate_here("r0", run) == word


def exchange(answer: str | None, peer_dead: bool = False, timeout_s: float = 0.3) -> tuple[tuple[int, str], list]:
    sent: list[tuple[tuple[str, str], ...]] = []

    async def scenario() -> tuple[int, str]:
        asker = OutdateService(sent.append, lambda: peer_dead)
        peer = OutdateService(lambda body: asker.received(dict(body)), lambda: False,
                              outdate=lambda res: answer or "failed")
        loop = asyncio.get_running_loop()
        asker.start(loop)
        peer.start(loop)

        def deliver(body: tuple[tuple[str, str], ...]) -> None:
            sent.append(body)
            if answer is not None and dict(body)["t"] == REQUEST:
                peer.received(dict(body))
        asker.send = deliver
        try:
            return await asker.ask_peer("r0", timeout_s)
        finally:
            asker.close()
            peer.close()

    return asyncio.run(scenario()), sent


@pytest.mark.parametrize("answer,code", [("outdated", 4), ("inconsistent", 3), ("primary", 6), ("failed", 1)])
def test_the_answer_becomes_drbds_exit_code(answer: str, code: int) -> None:
    (got, text), sent = exchange(answer)
    assert got == code and answer in text
    assert dict(sent[0]) == {"t": REQUEST, "rsc": "r0", "hbd_id": "1"}


def test_a_dead_peer_is_exit_5_and_a_silent_live_one_exit_1() -> None:
    assert exchange(None, peer_dead=True)[0][0] == 5
    (code, text), _ = exchange(None, timeout_s=0.2)
    assert code == 1 and "no answer" in text
    assert exchange("outdated")[1][0] and exchange(None)[0][0] == 1


def test_bad_resource_names_are_refused_on_both_sides() -> None:
    async def scenario() -> tuple[tuple[int, str], list]:
        replies: list = []
        svc = OutdateService(replies.append, lambda: False, outdate=lambda res: "outdated")
        svc.start(asyncio.get_running_loop())
        asked = await svc.ask_peer("all", 1)
        assert svc.received({"t": REQUEST, "rsc": "-x", "hbd_id": "9"})
        svc.close()
        return asked, replies
    (code, _), replies = asyncio.run(scenario())
    assert code == 1 and dict(replies[0]) == {"t": REPLY, "hbd_id": "9", "result": "failed"}


# --- the lab emulator ------------------------------------------------------------------------------

def resource() -> st.ResourceState:
    return st.ResourceState("r0", {"n1": st.NodeDrbd(role="Primary"), "n2": st.NodeDrbd()})


def facts(node: str, link_ok: bool) -> Facts:
    return Facts(node, link_ok, None, None)


def test_outdate_follows_drbd_rules() -> None:
    res = resource()
    out, _ = apply(res, 0, "outdate", set(), facts("n2", True))
    assert out.rc == 11 and "(-5) Refusing to be Outdated while Connected" in out.err
    out, _ = apply(res, 0, "outdate", set(), facts("n1", False))
    assert out.rc == 17 and "(-2) Need access to UpToDate data" in out.err and res.nodes["n1"].disk == "UpToDate"
    out, log = apply(res, 0, "outdate", set(), facts("n2", False))
    assert out.rc == 0 and res.nodes["n2"].disk == "Outdated" and log == ["disk( UpToDate -> Outdated )"]
    out, _ = apply(res, 0, "primary", set(), facts("n2", False))
    assert out.rc == 17 and "(-2) Need access to UpToDate data" in out.err
    st.settle(res, True, None)  # the link is back: resync, both UpToDate, what was known is forgotten
    assert res.nodes["n2"].disk == "UpToDate" and res.nodes["n1"].peer_disk is None


@pytest.mark.parametrize("code,peer_disk,own_disk", [
    (3, "Inconsistent", "UpToDate"), (4, "Outdated", "UpToDate"), (5, "Outdated", "UpToDate"),
    (6, None, "Outdated"), (7, "Outdated", "UpToDate"), (1, None, "UpToDate"), (0, None, "UpToDate"),
])
def test_fence_peer_exit_codes(code: int, peer_disk: str | None, own_disk: str) -> None:
    res = resource()
    log = record(res, "n1", code)
    assert res.nodes["n1"].peer_disk == peer_disk and res.nodes["n1"].disk == own_disk
    assert log[0].startswith(f"helper command: fence-peer exit code {code} (")


def test_fencing_config_is_read_from_the_resource_file(tmp_path: Path) -> None:
    (tmp_path / "r0.res").write_text('resource r0 {\n  disk { fencing resource-only; }\n'
                                     '  handlers { fence-peer "hbd fence-peer -t 5"; }\n}\n')
    config = fencing_config("r0", tmp_path)
    assert config.policy == "resource-only" and config.handler == "hbd fence-peer -t 5"
    assert fencing_config("r1", tmp_path).policy == "dont-care"
