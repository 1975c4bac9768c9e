"""LSB, Heartbeat resource.d and OCF classes: exit codes, arguments, environment, meta-data."""
from __future__ import annotations

from pathlib import Path

import pytest

from hbd.agents.base import Outcome
from hbd.agents.heartbeat_class import HeartbeatScriptAgent, owned_by_output, split_resource
from hbd.agents.lsb import LsbAgent, status_outcome
from hbd.agents.ocf import OcfAgent, parse_meta_data
from hbd.errors import AgentError
from tests.unit import agent_fakes

DATA = Path(__file__).resolve().parent.parent / "data" / "agents"


@pytest.mark.parametrize("rc, outcome", [(0, Outcome.RUNNING), (1, Outcome.STOPPED), (2, Outcome.STOPPED),
                                         (3, Outcome.STOPPED), (4, Outcome.FAILED), (150, Outcome.FAILED),
                                         (None, Outcome.FAILED)])
def test_lsb_status_codes(rc: int | None, outcome: Outcome) -> None:
    assert status_outcome(rc) is outcome


def test_lsb_status_3_reads_as_stopped(tmp_path: Path) -> None:
    agent = LsbAgent(agent_fakes.lsb_script(tmp_path))
    result = agent.call("status")
    assert result.outcome is Outcome.STOPPED and result.reason == ""
    assert "fake is not running" in result.actions


def test_lsb_start_failure_names_the_lsb_meaning(tmp_path: Path) -> None:
    agent = LsbAgent(agent_fakes.lsb_script(tmp_path))
    (tmp_path / "quirks").write_text("start-fails")
    result = agent.call("start")
    assert result.outcome is Outcome.FAILED
    assert result.reason == "start returned 6 (program is not configured)"
    assert "cannot start" in result.actions


def test_lsb_start_of_a_running_service_is_skipped(tmp_path: Path) -> None:
    agent = LsbAgent(agent_fakes.lsb_script(tmp_path))
    agent.call("start")
    (tmp_path / "quirks").write_text("start-fails")  # a second start would fail: it must not run
    result = agent.call("start")
    assert result.outcome is Outcome.RUNNING and result.actions[-1] == "already running: start skipped"


def test_stop_failing_while_stopped_is_accepted_as_not_lsb_compliant(tmp_path: Path) -> None:
    agent = LsbAgent(agent_fakes.lsb_script(tmp_path))
    (tmp_path / "quirks").write_text("stop-fails-when-stopped")
    result = agent.call("stop")
    assert result.outcome is Outcome.STOPPED and "not LSB-compliant" in result.actions[-1]


def test_stop_failing_while_running_is_a_failure(tmp_path: Path) -> None:
    agent = LsbAgent(agent_fakes.lsb_script(tmp_path))
    agent.call("start")
    (tmp_path / "quirks").write_text("stop-fails")
    result = agent.call("stop")
    assert result.outcome is Outcome.FAILED and result.reason == "stop returned 1 (generic or unspecified error)"


def test_lsb_status_unknown_is_a_failure(tmp_path: Path) -> None:
    agent = LsbAgent(agent_fakes.lsb_script(tmp_path))
    (tmp_path / "quirks").write_text("status-unknown")
    result = agent.call("status")
    assert result.outcome is Outcome.FAILED and "status is unknown" in result.reason


def test_script_timeout_is_reported_as_timeout(tmp_path: Path) -> None:
    script = agent_fakes.write(tmp_path / "slow", "#!/bin/sh\nsleep 30\n")
    result = LsbAgent(script).call("status", timeout_s=0.6)
    assert result.outcome is Outcome.TIMEOUT and result.duration_s < 5


@pytest.mark.parametrize("make, why", [
    (lambda p: p / "missing", "cannot locate"),
    (lambda p: p, "not a regular file"),
    (lambda p: (p / "plain").write_text("#!/bin/sh\n") and p / "plain", "not executable"),
])
def test_unusable_scripts_are_refused_before_running(tmp_path: Path, make, why: str) -> None:
    with pytest.raises(AgentError, match=why):
        LsbAgent(make(tmp_path))


def test_heartbeat_arguments_are_positional(tmp_path: Path) -> None:
    name, args = split_resource("FakeRes::one::two")
    agent = HeartbeatScriptAgent(agent_fakes.heartbeat_script(tmp_path, name), args)
    assert agent.label == "FakeRes::one::two"
    assert [agent.call(op).outcome for op in ("status", "start", "status")] == [
        Outcome.STOPPED, Outcome.RUNNING, Outcome.RUNNING]
    assert (tmp_path / "FakeRes.args").read_text() == "one two\n"


@pytest.mark.parametrize("text, owned", [
    ("INFO:  Running OK", True),
    ("INFO:  Resource is stopped", False),
    ("running (Primary)", True),
    ("stopped (Secondary)", False),
    ("cannot determine status, may be running (Unknown)", False),  # "canNOT ... running"
    ("httpd is NOT running", False),
    ("Not currently\nrunning", False),
    ("RUNNING", False),
    ("Running", True),
    ("all OK", True),
    ("all ok", False),
    ("", False),
])
def test_heartbeat_status_by_output_rule(text: str, owned: bool) -> None:
    assert owned_by_output(text) is owned


def test_status_by_output_is_an_option_not_the_default(tmp_path: Path) -> None:
    script = agent_fakes.write(tmp_path / "resource.d" / "Chatty",
                               "#!/bin/sh\necho 'service is not running'\nexit 0\n")
    assert HeartbeatScriptAgent(script).call("status").outcome is Outcome.RUNNING
    assert HeartbeatScriptAgent(script, status_by_output=True).call("status").outcome is Outcome.STOPPED


def test_heartbeat_status_with_an_odd_exit_code_fails(tmp_path: Path) -> None:
    script = agent_fakes.write(tmp_path / "Odd", "#!/bin/sh\nexit 4\n")
    result = HeartbeatScriptAgent(script).call("status")
    assert result.outcome is Outcome.FAILED and result.reason == "status returned 4"


def test_ocf_environment(tmp_path: Path) -> None:
    agent_fakes.ocf_agent(tmp_path)
    state = tmp_path / "fake.state"
    agent = OcfAgent("test", "Fake", {"state": str(state)}, instance="fake1", root=tmp_path)
    assert agent.call("start").outcome is Outcome.RUNNING
    env = dict(line.split("=", 1) for line in (tmp_path / "fake.state.env").read_text().splitlines())
    assert 0 < int(env.pop("OCF_RESKEY_CRM_meta_timeout")) <= 60000
    assert 0 < int(env.pop("OCF_RESKEY_RGMANAGER_meta_timeout")) <= 60
    assert env == {"OCF_CHECK_LEVEL": "0", "OCF_RA_VERSION_MAJOR": "1", "OCF_RA_VERSION_MINOR": "0",
                   "OCF_RESKEY_state": str(state), "OCF_RESOURCE_INSTANCE": "fake1",
                   "OCF_RESOURCE_PROVIDER": "test", "OCF_RESOURCE_TYPE": "Fake", "OCF_ROOT": str(tmp_path)}


def test_ocf_missing_required_parameter_fails_before_start_runs(tmp_path: Path) -> None:
    agent_fakes.ocf_agent(tmp_path)
    result = OcfAgent("test", "Fake", {"delay": "0"}, root=tmp_path).call("start")
    assert result.outcome is Outcome.FAILED
    assert result.reason == "missing required parameter(s): state (program not configured)"
    assert not list(tmp_path.glob("*.env"))  # the agent never ran an action


def test_ocf_unknown_parameter_is_refused(tmp_path: Path) -> None:
    agent_fakes.ocf_agent(tmp_path)
    result = OcfAgent("test", "Fake", {"state": str(tmp_path / "s"), "colour": "red"}, root=tmp_path).call("start")
    assert result.outcome is Outcome.FAILED and "unknown parameter(s): colour" in result.reason


def test_ocf_timeout(tmp_path: Path) -> None:
    agent_fakes.ocf_agent(tmp_path)
    agent = OcfAgent("test", "Fake", {"state": str(tmp_path / "s"), "delay": "30"}, root=tmp_path)
    result = agent.call("status", timeout_s=0.5)
    assert result.outcome is Outcome.TIMEOUT


def test_real_meta_data_parses() -> None:
    meta = parse_meta_data((DATA / "ocf-IPaddr2-meta-data.xml").read_text())
    assert meta.name == "IPaddr2"
    ip = meta.parameter("ip")
    assert ip is not None and ip.required and ip.unique
    assert {"start", "stop", "monitor", "meta-data"} <= set(meta.actions)
    dummy = parse_meta_data((DATA / "ocf-Dummy-meta-data.xml").read_text())
    assert dummy.name == "Dummy" and dummy.parameter("state") is not None


@pytest.mark.parametrize("xml, why", [("<not-closed", "not well-formed"), ("<x/>", "expected <resource-agent>")])
def test_bad_meta_data(xml: str, why: str) -> None:
    with pytest.raises(AgentError, match=why):
        parse_meta_data(xml)


def test_bad_ocf_names(tmp_path: Path) -> None:
    with pytest.raises(AgentError, match="bad OCF agent name"):
        OcfAgent("../x", "Fake", root=tmp_path)
    with pytest.raises(AgentError, match="cannot locate"):
        OcfAgent("test", "Absent", root=tmp_path)
