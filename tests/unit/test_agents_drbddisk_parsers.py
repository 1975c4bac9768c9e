"""drbddisk: parsers of drbdadm output (DRBD 8.4 and 9 forms), the command builder, and the agent's rules
against a stand-in drbdadm that refuses what DRBD refuses."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from hbd.agents import drbddisk
from hbd.agents.base import Outcome
from hbd.agents.drbddisk import Drbddisk, Pair, PeerStatus
from hbd.errors import AgentError
from tests.unit.agent_fakes import FakeDrbd

# `drbdadm status` of DRBD 9 in the forms drbd-utils prints (host names changed): connected, disconnected,
# with volumes during a resync, and `drbdsetup status --verbose`.
STATUS_9_CONNECTED = """\
r0 role:Primary
  disk:UpToDate
  bob role:Secondary
    replication:Established peer-disk:UpToDate

"""
STATUS_9_VERBOSE = """\
r0 node-id:0 role:Secondary suspended:no
  volume:0 minor:3 disk:UpToDate quorum:yes blocked:no
  alice node-id:1 connection:Connected role:Primary congested:no
    volume:0 replication:Established peer-disk:UpToDate
  carol node-id:3 connection:Connecting
"""
STATUS_9_DISCONNECTED = """\
r0 role:Secondary
  disk:Outdated
  bob connection:Connecting
"""
STATUS_9_REPLICATION = """\
home role:Secondary
  volume:0 disk:Inconsistent
  nina role:Primary
    volume:0 replication:SyncTarget peer-disk:UpToDate done:12.34
"""


def test_role_84_shows_local_and_peer() -> None:
    assert drbddisk.parse_role("Primary/Secondary\n") == Pair("Primary", "Secondary")
    assert drbddisk.parse_role("Secondary/Unknown\n") == Pair("Secondary", "Unknown")


def test_role_9_shows_only_the_local_role() -> None:
    assert drbddisk.parse_role("Secondary\n") == Pair("Secondary", None)


def test_dstate_and_cstate() -> None:
    assert drbddisk.parse_pair("UpToDate/DUnknown\n") == Pair("UpToDate", "DUnknown")
    assert drbddisk.parse_pair("Outdated\n") == Pair("Outdated", None)
    assert drbddisk.parse_cstate("WFConnection\n") == "WFConnection"


@pytest.mark.parametrize("text", ["", "\n", "Sideways/Primary", "Primary Secondary"])
def test_bad_role_output(text: str) -> None:
    with pytest.raises(ValueError):
        drbddisk.parse_role(text)


def test_status_9_connected() -> None:
    status = drbddisk.parse_status(STATUS_9_CONNECTED)
    assert (status.resource, status.role, status.disk) == ("r0", "Primary", "UpToDate")
    assert status.peers == (PeerStatus("bob", "Secondary", None, "Established", "UpToDate"),)


def test_status_9_verbose() -> None:
    status = drbddisk.parse_status(STATUS_9_VERBOSE)
    assert (status.resource, status.role, status.disk) == ("r0", "Secondary", "UpToDate")
    assert status.peers == (PeerStatus("alice", "Primary", "Connected", "Established", "UpToDate"),
                            PeerStatus("carol", None, "Connecting", None, None))


@pytest.mark.parametrize("connection", ["Connected", "WFConnection"])
def test_status_as_the_lab_emulator_renders_it(connection: str) -> None:
    from hbd.lab import drbd_format as fmt

    view = fmt.ResourceView("r0", 0, "Primary", "UpToDate", fmt.PeerView("n2", connection, "Secondary", "UpToDate"))
    status = drbddisk.parse_status(fmt.render_status(view, statistics=True))
    assert (status.role, status.disk, status.peers[0].name) == ("Primary", "UpToDate", "n2")
    assert drbddisk.parse_role(fmt.render_role(view)) == Pair("Primary", "Secondary")
    assert drbddisk.parse_pair(fmt.render_dstate(view)) == Pair("UpToDate", "UpToDate")
    assert drbddisk.parse_cstate(fmt.render_cstate(view)) == connection


def test_status_9_disconnected() -> None:
    status = drbddisk.parse_status(STATUS_9_DISCONNECTED)
    assert (status.role, status.disk) == ("Secondary", "Outdated")
    assert status.peers == (PeerStatus("bob", None, "Connecting", None, None),)


def test_status_9_with_volumes() -> None:
    status = drbddisk.parse_status(STATUS_9_REPLICATION)
    assert (status.resource, status.disk) == ("home", "Inconsistent")
    assert status.peers == (PeerStatus("nina", "Primary", None, "SyncTarget", "UpToDate"),)


def test_status_without_role_is_refused() -> None:
    with pytest.raises(ValueError):
        drbddisk.parse_status("r0 disk:UpToDate\n")


def test_command_builder() -> None:
    assert drbddisk.command("primary", "r0") == ["drbdadm", "primary", "r0"]
    for bad in ("all", "-r0", "r0 r1", ""):
        with pytest.raises(AgentError):
            drbddisk.command("role", bad)
    with pytest.raises(AgentError):
        drbddisk.command("down", "r0")


# --- the agent against a stand-in drbdadm ----------------------------------------------------------

@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDrbd:
    fake = FakeDrbd(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    return fake


def agent(sleeps: list[float] | None = None) -> Drbddisk:
    return Drbddisk("r0", retry_interval_s=1.0, sleep=(sleeps.append if sleeps is not None else lambda s: None))


@pytest.mark.parametrize("fmt", ["84", "9"])
def test_promote_and_demote(fake: FakeDrbd, fmt: str) -> None:
    fake.set(format=fmt)
    assert agent().call("start").outcome is Outcome.RUNNING
    assert fake.state["role"] == "Primary"
    assert agent().call("status").outcome is Outcome.RUNNING
    assert agent().call("stop").outcome is Outcome.STOPPED
    assert fake.state["role"] == "Secondary"
    assert agent().call("status").outcome is Outcome.STOPPED


def test_start_of_a_primary_does_nothing(fake: FakeDrbd) -> None:
    fake.set(role="Primary")
    result = agent().call("start")
    assert result.outcome is Outcome.RUNNING and fake.state["calls"] == ["role"]


def test_refuses_to_promote_a_disk_that_is_not_up_to_date(fake: FakeDrbd) -> None:
    fake.set(disk="Outdated")
    result = agent().call("start")
    assert result.outcome is Outcome.FAILED
    assert result.reason.startswith("refusing to promote r0: local disk is Outdated, not UpToDate (the peer outdated")
    assert "primary" not in fake.state["calls"]


def test_peer_primary_is_retried_six_times_one_second_apart_then_refused(fake: FakeDrbd) -> None:
    fake.set(peer="Primary")
    sleeps: list[float] = []
    result = agent(sleeps).call("start")
    assert result.outcome is Outcome.FAILED and result.reason.startswith("could not promote r0: peer is Primary")
    assert fake.state["calls"].count("primary") == 6 and sleeps == [1.0] * 5
    assert fake.state["role"] == "Secondary"


def test_demote_retries_three_times(fake: FakeDrbd) -> None:
    fake.set(role="Primary", busy=True)
    sleeps: list[float] = []
    result = agent(sleeps).call("stop")
    assert result.outcome is Outcome.FAILED and "held open" in result.reason
    assert fake.state["calls"].count("secondary") == 3 and sleeps == [1.0] * 2


def test_retries_stop_at_the_deadline(fake: FakeDrbd) -> None:
    fake.set(peer="Primary")
    # less than one retry interval left after the first try: the interval is far longer than the whole
    # deadline (not a short deadline, which a loaded machine spends before the first try)
    slow = Drbddisk("r0", retry_interval_s=60.0, sleep=lambda s: None)
    result = slow.call("start", timeout_s=20.0)
    assert fake.state["calls"].count("primary") == 1 and not result.ok


def test_status_of_an_unknown_role_is_a_failure(fake: FakeDrbd) -> None:
    fake.set(role="Unknown")
    result = agent().call("status")
    assert result.outcome is Outcome.FAILED and "may be running (Unknown)" in result.reason


def test_missing_drbdadm_fails_clearly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = agent().call("status")
    assert result.outcome is Outcome.FAILED and "cannot run" in result.reason


def test_a_resource_name_is_required() -> None:
    with pytest.raises(AgentError, match="single resource"):
        Drbddisk("all")
