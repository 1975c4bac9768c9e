"""Fence agents by their own protocol: stdin lines, exit codes, timeout; plans; fence-agents' real agents."""
from __future__ import annotations

import shutil
import stat
import time
from pathlib import Path

import pytest

from hbd.fencing.agent import AgentResult, find_agent, redacted, run_agent, stdin_text
from hbd.fencing.execute import fence
from hbd.fencing.model import DeviceUse, FenceDevice, FenceMethod, FencePlan

FAKE = """#!/bin/sh
# records its stdin, then exits with the code named by the `rc_ACTION` parameter (default 0)
input=$(cat)
printf '%s\\n--\\n' "$input" >> {log}
action=$(printf '%s\\n' "$input" | sed -n 's/^action=//p')
rc=$(printf '%s\\n' "$input" | sed -n "s/^rc_$action=//p")
[ -n "$(printf '%s\\n' "$input" | sed -n 's/^hang=1$/x/p')" ] && sleep 30
echo "fake: $action"
exit ${{rc:-0}}
"""


def fake_agent(tmp_path: Path, name: str = "fence_fake") -> tuple[Path, Path]:
    log = tmp_path / f"{name}.log"
    exe = tmp_path / name
    exe.write_text(FAKE.format(log=log))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe, log


def calls(log: Path) -> list[dict[str, str]]:
    if not log.exists():
        return []
    out = []
    for block in log.read_text().split("\n--\n"):
        lines = [ln for ln in block.splitlines() if ln]
        if lines:
            out.append(dict(ln.split("=", 1) for ln in lines))
    return out


def test_parameters_go_on_stdin_with_the_action_last(tmp_path: Path) -> None:
    exe, log = fake_agent(tmp_path)
    result = run_agent(str(exe), [("ip", "192.0.2.9"), ("action", "on"), ("plug", "n2")], "off", 10)
    assert result.ok and result.code == 0 and "fake: off" in result.output
    assert calls(log) == [{"ip": "192.0.2.9", "plug": "n2", "action": "off"}]
    assert stdin_text([("a", "1")], "status") == "a=1\naction=status\n"


@pytest.mark.parametrize("code,power", [(0, "on"), (2, "off"), (1, "unknown")])
def test_status_exit_codes(tmp_path: Path, code: int, power: str) -> None:
    exe, _ = fake_agent(tmp_path)
    result = run_agent(str(exe), [("rc_status", str(code))], "status", 10)
    assert result.code == code and result.power == power and result.ok is (code == 0)


def test_a_hanging_agent_is_killed_at_its_timeout(tmp_path: Path) -> None:
    exe, _ = fake_agent(tmp_path)
    begun = time.monotonic()
    result = run_agent(str(exe), [("hang", "1")], "off", 0.5)
    assert not result.ok and result.code is None and "no answer within 0.5 s" in result.describe()
    assert time.monotonic() - begun < 10  # the sleep (30 s) died with its process group


def test_a_missing_agent_fails_with_the_reason(tmp_path: Path) -> None:
    result = run_agent("fence_not_there_at_all", [], "off", 5)
    assert not result.ok and "not found" in result.describe()
    assert find_agent(str(tmp_path / "nope")) is None
    with pytest.raises(ValueError):
        run_agent("fence_x", [], "explode", 5)  # type: ignore[arg-type]


def test_passwords_never_reach_a_log_line() -> None:
    assert redacted([("login", "root"), ("passwd", "s3cret"), ("password", "x"), ("ssh_key", "k")]) == \
        "login=root passwd=*** password=*** ssh_key=***"


def _plan(*methods: FenceMethod) -> FencePlan:
    return FencePlan("n2", methods)


def _use(exe: Path, name: str, **params: str) -> DeviceUse:
    return DeviceUse(FenceDevice(name, str(exe), (("dev", name),)), tuple(params.items()))


def test_methods_are_tried_in_order_until_one_succeeds(tmp_path: Path) -> None:
    exe, log = fake_agent(tmp_path)
    plan = _plan(FenceMethod("ipmi", (_use(exe, "bmc", rc_reboot="1"),)),
                 FenceMethod("pdu", (_use(exe, "apc", plug="3"),)),
                 FenceMethod("never", (_use(exe, "spare"),)))
    outcome = fence(plan, "reboot", timeout_s=10)
    assert outcome.ok and outcome.method == "pdu"
    assert [(c["dev"], c["action"]) for c in calls(log)] == [("bmc", "reboot"), ("apc", "reboot")]
    assert calls(log)[1]["plug"] == "3"


def test_every_device_of_a_method_must_succeed(tmp_path: Path) -> None:
    exe, log = fake_agent(tmp_path)
    plan = _plan(FenceMethod("dual-psu", (_use(exe, "psu1"), _use(exe, "psu2", rc_off="1"))))
    outcome = fence(plan, "reboot", timeout_s=10)
    assert not outcome.ok and outcome.method is None
    # both supplies off before either comes back; psu2 failed: nothing is switched on again
    assert [(c["dev"], c["action"]) for c in calls(log)] == [("psu1", "off"), ("psu2", "off")]
    assert outcome.describe().startswith("fencing n2 failed: ") and "off: exit 1" in outcome.describe()


def test_a_multi_device_reboot_is_off_everywhere_then_on(tmp_path: Path) -> None:
    exe, log = fake_agent(tmp_path)
    plan = _plan(FenceMethod("dual-psu", (_use(exe, "psu1"), _use(exe, "psu2", rc_on="1"))))
    outcome = fence(plan, "reboot", timeout_s=10)
    assert outcome.ok  # a failed `on` leaves the node off: fenced all the same
    assert [(c["dev"], c["action"]) for c in calls(log)] == [
        ("psu1", "off"), ("psu2", "off"), ("psu1", "on"), ("psu2", "on")]


def test_no_method_is_a_failure() -> None:
    outcome = fence(_plan(), "off")
    assert not outcome.ok and "no fence method" in outcome.describe()


def test_node_parameters_win_over_the_device_ones() -> None:
    use = DeviceUse(FenceDevice("apc", "fence_apc", (("ip", "192.0.2.7"), ("plug", "1"))), (("plug", "4"),))
    assert use.merged == (("ip", "192.0.2.7"), ("plug", "4"))


# --- fence-agents' own agents, where one runs without hardware ---------------------------------------

needs_fence_agents = pytest.mark.skipif(shutil.which("fence_dummy", path="/usr/sbin:/sbin") is None,
                                        reason="fence-agents is not installed (tests/apt-packages lists it)")


@needs_fence_agents
def test_fence_dummy_through_the_runner(tmp_path: Path) -> None:
    state = tmp_path / "power"
    state.write_text("on")
    params = [("type", "file"), ("status_file", str(state))]
    assert run_agent("fence_dummy", params, "status", 60).power == "on"
    outcome = fence(FencePlan("n2", (FenceMethod("1", (DeviceUse(FenceDevice("d", "fence_dummy", tuple(params))),)),)),
                    "off", timeout_s=60)
    assert outcome.ok, outcome.describe()
    assert state.read_text() == "off"
    assert run_agent("fence_dummy", params, "status", 60).power == "off"
    assert not run_agent("fence_dummy", [("type", "file"), ("status_file", str(tmp_path / "none"))],
                         "status", 60).ok


@needs_fence_agents
def test_fence_virsh_metadata_through_the_runner() -> None:
    result = run_agent("fence_virsh", [], "metadata", 60)
    assert result.ok and '<resource-agent name="fence_virsh"' in result.output


def test_agent_result_describe_names_the_agent() -> None:
    text = AgentResult("fence_x", "off", 1, "line1\nFailed: no route\n", 0.3).describe()
    assert text == "fence_x off: exit 1 after 0.3 s (Failed: no route)"
