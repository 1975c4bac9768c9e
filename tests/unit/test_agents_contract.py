"""The one contract, run over every agent class: start twice, stop twice, status after stop is "stopped",
and bad parameters fail before anything is touched. IPaddr2 and Filesystem run for real (root only)
in a private network namespace pair and a private mount namespace."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hbd.agents.base import Outcome
from hbd.agents.drbddisk import Drbddisk
from hbd.agents.heartbeat_class import HeartbeatScriptAgent
from hbd.agents.lsb import LsbAgent
from hbd.agents.ocf import OCF_ROOT, OcfAgent
from hbd.agents.registry import Registry
from hbd.config.model import ResourceNode
from hbd.errors import AgentError
from tests.unit import agent_fakes, agent_sandbox

SEQUENCE = ["status", "start", "start", "status", "stop", "stop", "status"]
EXPECTED = ["stopped", "running", "running", "running", "stopped", "stopped", "stopped"]


@dataclass
class Subject:
    run: Callable[[list[str]], list[str]]  # operations -> outcomes, in one process
    bad: Callable[[], str]  # use the agent with bad parameters -> outcome (or raise AgentError)
    untouched: Callable[[], bool]  # after `bad`: nothing was changed


def in_process(make: Callable[[], object]) -> Callable[[list[str]], list[str]]:
    def run(ops: list[str]) -> list[str]:
        agent = make()
        return [agent.call(op).outcome.value for op in ops]  # type: ignore[attr-defined]
    return run


def lsb(tmp: Path, _: pytest.MonkeyPatch) -> Iterator[Subject]:
    script = agent_fakes.lsb_script(tmp)
    yield Subject(in_process(lambda: LsbAgent(script)), lambda: LsbAgent(tmp / "init.d" / "absent").call("start"),
                  lambda: not (tmp / "fakesvc.running").exists())


def heartbeat(tmp: Path, _: pytest.MonkeyPatch) -> Iterator[Subject]:
    script = agent_fakes.heartbeat_script(tmp)
    yield Subject(in_process(lambda: HeartbeatScriptAgent(script, ("a", "b"))),
                  lambda: Registry(resource_dir=tmp / "resource.d", init_dir=tmp / "init.d").for_haresource(
                      "Absent", ("a",)).call("start").outcome.value,
                  lambda: not (tmp / "FakeRes.running").exists())


def ocf_fake(tmp: Path, _: pytest.MonkeyPatch) -> Iterator[Subject]:
    agent_fakes.ocf_agent(tmp)
    state = tmp / "state"
    yield Subject(in_process(lambda: OcfAgent("test", "Fake", {"state": str(state)}, root=tmp)),
                  lambda: OcfAgent("test", "Fake", {}, root=tmp).call("start").outcome.value,
                  lambda: not list(tmp.glob("*.env")))


def ocf_dummy(tmp: Path, _: pytest.MonkeyPatch) -> Iterator[Subject]:
    if not (OCF_ROOT / "resource.d" / "heartbeat" / "Dummy").exists():
        pytest.skip("resource-agents is not installed (tests/apt-packages)")
    state = tmp / "dummy.state"
    yield Subject(in_process(lambda: OcfAgent("heartbeat", "Dummy", {"state": str(state)})),
                  lambda: OcfAgent("heartbeat", "Dummy", {"state": str(state), "bogus": "1"}).call("start")
                  .outcome.value,
                  lambda: not state.exists())


def drbd(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Subject]:
    fake = agent_fakes.FakeDrbd(tmp)
    monkeypatch.setenv("PATH", f"{tmp}:/usr/sbin:/usr/bin:/sbin:/bin")
    yield Subject(in_process(lambda: Drbddisk("r0", sleep=lambda s: None)), lambda: Drbddisk("all").call("start"),
                  lambda: fake.state["calls"] == [] or "primary" not in fake.state["calls"])


def container(tmp: Path, _: pytest.MonkeyPatch) -> Iterator[Subject]:
    # A container has no state of its own: its status is always "running", so it is checked apart below.
    yield Subject(lambda ops: [], lambda: Registry().resolve(ResourceNode("fs", "x")).call("start"), lambda: True)


def ipaddr2(tmp: Path, _: pytest.MonkeyPatch) -> Iterator[Subject]:
    with agent_sandbox.net_pair() as net:
        def run(ops: list[str]) -> list[str]:
            return [r["outcome"] for r in net.agent(net.a, ["IPaddr2", f"198.51.100.50/24/{net.va}", ",".join(ops)])]

        def bad() -> str:
            res = agent_sandbox.sh("ip", "netns", "exec", net.a, *agent_sandbox.AGENTS, "IPaddr2",
                                   f"198.51.100.50/33/{net.va}", "start", check=False)
            assert res.returncode == 2 and "prefix length 33 out of range" in res.stderr
            raise AgentError(res.stderr)
        yield Subject(run, bad, lambda: all(a["local"] != "198.51.100.50" for a in net.addresses(net.a, net.va)))


def filesystem(tmp: Path, _: pytest.MonkeyPatch) -> Iterator[Subject]:
    with agent_sandbox.loop_disk(tmp) as disk:
        mnt = tmp / "mnt"

        def run(ops: list[str]) -> list[str]:
            res = disk.in_private_mounts(agent_sandbox.agents_cmd("Filesystem", disk.device, str(mnt), "ext4",
                                                                  ",".join(ops)))
            return [r["outcome"] for r in agent_sandbox.results(res.stdout)]

        def bad() -> str:
            res = disk.in_private_mounts(agent_sandbox.agents_cmd("Filesystem", disk.device, "relative", "start"))
            assert res.returncode == 2 and "absolute path" in res.stderr
            raise AgentError(res.stderr)
        yield Subject(run, bad, lambda: not (tmp / "relative").exists())


SUBJECTS = [lsb, heartbeat, ocf_fake, ocf_dummy, drbd,
            pytest.param(ipaddr2, marks=pytest.mark.root), pytest.param(filesystem, marks=pytest.mark.root)]


@pytest.fixture(params=SUBJECTS, ids=lambda f: f.__name__)
def subject(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Subject]:
    yield from request.param(tmp_path, monkeypatch)


def test_start_twice_stop_twice_status_after_stop(subject: Subject) -> None:
    assert subject.run(SEQUENCE) == EXPECTED


def test_bad_parameters_fail_before_anything_is_touched(subject: Subject) -> None:
    try:
        outcome = subject.bad()
    except AgentError:
        outcome = "refused"
    outcome = getattr(outcome, "outcome", outcome)
    assert getattr(outcome, "value", outcome) in ("failed", "refused")
    assert subject.untouched()


def test_container_succeeds_at_everything() -> None:
    agent = Registry().resolve(ResourceNode("service", "database", (("name", "database"),)))
    assert [agent.call(op).outcome for op in SEQUENCE] == [Outcome.RUNNING] * 4 + [Outcome.STOPPED] * 2 + [
        Outcome.RUNNING]
