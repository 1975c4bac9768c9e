"""Stop escalation (doc/daemon.md): retries announced, then a typed decision from ha.cf `on_stop_failure`,
carried out by the runtime with a greppable line first; a blocked group stays held (the peer never starts it)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from heartbeat_files import hacf_of, one_error
from test_daemon_behaviours import Pair

from hbd.core import ownership_types as o
from hbd.runtime.stop_escalation import Escalator, StopSettings, settings_of


@dataclass
class RecordingPair(Pair):
    decisions: list[o.StopFailedForGood] = field(default_factory=list)

    def _act(self, at: str, action: o.Action) -> list[tuple[str, o.Event]]:
        if isinstance(action, o.StopFailedForGood):
            self.decisions.append(action)
        return super()._act(at, action)


@pytest.mark.parametrize("escalation", list(o.StopEscalation))
def test_after_the_last_retry_the_core_decides_the_configured_escalation(escalation: o.StopEscalation) -> None:
    p = RecordingPair(policy=o.Policy(stop_retries=2, on_stop_failure=escalation), fail_stop={("n1", "ipA")})
    p.start_both()
    p.feed("n1", o.AdminRequest("standby", "local", 7))
    p.advance(2 * p.policy.stop_retry_ms + 2000)
    retries = [line for line in p.logs["n1"] if "stop escalation: group ipA: stop attempt" in line]
    assert len(retries) == 2 and "attempt 1 of 3 failed" in retries[0]
    assert p.decisions == [o.StopFailedForGood("ipA", escalation)]
    assert any(f"on_stop_failure {escalation.value}" in line for line in p.logs["n1"])
    assert p.cores["n1"].view().groups["ipA"] is o.GroupState.FAILED  # blocked: held, never reported as stopped
    assert "ipA" in p.cores["n1"].held and "ipA" not in p.held("n2")  # the peer never starts it


def test_no_decision_while_retries_remain() -> None:
    p = RecordingPair(policy=o.Policy(stop_retries=3), fail_stop={("n1", "ipA")})
    p.start_both()
    p.feed("n1", o.AdminRequest("standby", "local", 7))
    p.advance(p.policy.stop_retry_ms + 500)  # two of four attempts
    assert p.decisions == [] and p.cores["n1"].view().groups["ipA"] is o.GroupState.STOPPING


def test_settings_from_hacf(tmp_path: Path) -> None:
    base = "node n1 n2\nbcast lo\n"
    hacf, problems = hacf_of(tmp_path, base)
    assert hacf is not None and settings_of(hacf) == StopSettings()  # the defaults: block, 10 retries
    hacf, problems = hacf_of(tmp_path, base + "on_stop_failure fence\nstop_retries 2\nstop_timeout 5\n")
    assert hacf is not None and not [p for p in problems if p.severity == "error"]
    assert settings_of(hacf) == StopSettings(o.StopEscalation.FENCE, 2, 5.0)
    _, problems = hacf_of(tmp_path, base + "on_stop_failure shrug\n")
    assert "on_stop_failure" in str(one_error(problems))


class Calls:
    def __init__(self) -> None:
        self.done: list[str] = []

    def fence(self) -> str:
        self.done.append("fence")
        return "n1 fenced by method line 7"

    def reboot(self) -> None:
        self.done.append("reboot")


def test_block_announces_and_does_nothing_more(caplog: pytest.LogCaptureFixture) -> None:
    calls = Calls()
    with caplog.at_level(logging.INFO, logger="hbd"):
        done = Escalator(self_fence=calls.fence, reboot=calls.reboot).carry_out("ipA", o.StopEscalation.BLOCK)
    assert done is o.StopEscalation.BLOCK and calls.done == []
    assert "stop escalation: group ipA: blocked" in caplog.text


def test_fence_runs_this_nodes_fence_plan_after_saying_so(caplog: pytest.LogCaptureFixture) -> None:
    calls = Calls()
    with caplog.at_level(logging.INFO, logger="hbd"):
        done = Escalator(self_fence=calls.fence, reboot=calls.reboot).carry_out("ipA", o.StopEscalation.FENCE)
    assert done is o.StopEscalation.FENCE and calls.done == ["fence"]
    lines = [r.getMessage() for r in caplog.records if "stop escalation" in r.getMessage()]
    assert "fencing this node now" in lines[0] and "self-fence: n1 fenced" in lines[1]


def test_fence_without_a_plan_for_this_node_blocks_instead(caplog: pytest.LogCaptureFixture) -> None:
    calls = Calls()
    with caplog.at_level(logging.INFO, logger="hbd"):
        done = Escalator(reboot=calls.reboot).carry_out("ipA", o.StopEscalation.FENCE)
    assert done is o.StopEscalation.BLOCK and calls.done == []
    assert "no stonith_host line fences this node: blocked instead" in caplog.text


def test_reboot_is_announced_before_it_happens(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []
    with caplog.at_level(logging.INFO, logger="hbd"):
        Escalator(reboot=lambda: seen.append(caplog.text)).carry_out("ipA", o.StopEscalation.REBOOT)
    assert len(seen) == 1 and "stop escalation: group ipA: rebooting this node now" in seen[0]


def test_the_older_reboot_option_still_reboots() -> None:
    calls = Calls()
    Escalator(reboot_requested=True, reboot=calls.reboot).carry_out("ipA", o.StopEscalation.BLOCK)
    assert calls.done == ["reboot"]
