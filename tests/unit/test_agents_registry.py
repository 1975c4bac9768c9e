"""Resolving resources to agents (haresources and cluster.conf), the executor's output, the command line
and the resource.d executables' Heartbeat conventions."""
from __future__ import annotations

import io
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from hbd.agents import executor
from hbd.agents.__main__ import exit_code, split_words
from hbd.agents.base import Outcome
from hbd.agents.drbddisk import Drbddisk
from hbd.agents.filesystem import Filesystem
from hbd.agents.heartbeat_class import HeartbeatScriptAgent
from hbd.agents.ipaddr2 import IPaddr2
from hbd.agents.lsb import LsbAgent
from hbd.agents.ocf import OcfAgent
from hbd.agents.registry import ContainerAgent, Registry
from hbd.config.model import ResourceNode
from hbd.errors import AgentError
from tests.unit import agent_fakes

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    agent_fakes.heartbeat_script(tmp_path, "FakeRes")
    agent_fakes.lsb_script(tmp_path, "fakesvc")
    agent_fakes.lsb_script(tmp_path, "FakeRes")  # also in init.d: resource.d must win
    agent_fakes.ocf_agent(tmp_path / "ocf")
    return Registry(resource_dir=tmp_path / "resource.d", init_dir=tmp_path / "init.d", ocf_root=tmp_path / "ocf")


def hares(text: str) -> ResourceNode:
    name, _, args = text.partition("::")
    return ResourceNode(name, text, (("args", args),))


def test_builtins_come_first(registry: Registry) -> None:
    assert isinstance(registry.resolve(hares("IPaddr2::192.0.2.50/24/eth0")), IPaddr2)
    assert isinstance(registry.resolve(hares("IPaddr::192.0.2.50")), IPaddr2)
    assert isinstance(registry.resolve(hares("Filesystem::/dev/drbd0::/srv::ext4")), Filesystem)
    assert isinstance(registry.resolve(hares("drbddisk::r0")), Drbddisk)


def test_resource_d_before_init_d(registry: Registry, tmp_path: Path) -> None:
    agent = registry.resolve(hares("FakeRes::a::b"))
    assert isinstance(agent, HeartbeatScriptAgent) and agent.path == tmp_path / "resource.d" / "FakeRes"
    assert agent.args == ("a", "b")


def test_init_script_without_arguments_is_lsb(registry: Registry) -> None:
    assert isinstance(registry.resolve(hares("fakesvc")), LsbAgent)


def test_ocf_agent_from_haresources(registry: Registry, tmp_path: Path) -> None:
    agent = registry.resolve(hares("ocf:test:Fake::state=/tmp/x::delay=1"))
    assert isinstance(agent, OcfAgent) and agent.params == {"state": "/tmp/x", "delay": "1"}
    with pytest.raises(AgentError, match="not name=value"):
        registry.resolve(hares("ocf:test:Fake::novalue"))


@pytest.mark.parametrize("text, why", [
    ("nosuchscript", "Cannot locate resource script nosuchscript"),
    ("../etc::x", "bad resource script name"),
    ("IPaddr2", "expected one argument"),
    ("drbddisk", "single DRBD resource name"),
    ("Filesystem::/dev/sdb1", "device::mountpoint"),
])
def test_unresolvable_resources(registry: Registry, text: str, why: str) -> None:
    with pytest.raises(AgentError, match=why):
        registry.resolve(hares(text))


def test_cluster_conf_types(registry: Registry, tmp_path: Path) -> None:
    ip = registry.resolve(ResourceNode("ip", "192.0.2.50/24", (("address", "192.0.2.50/24"), ("monitor_link", "1"))))
    assert isinstance(ip, IPaddr2) and ip.spec.monitor_link and ip.spec.prefix == 24
    fs = registry.resolve(ResourceNode("fs", "data", (("name", "data"), ("device", "/dev/drbd0"),
                                                      ("mountpoint", "/srv"), ("fstype", "ext4"))))
    assert isinstance(fs, Filesystem) and fs.spec.mountpoint == "/srv"
    drbd = registry.resolve(ResourceNode("drbd", "disk", (("name", "disk"), ("resource", "r0"))))
    assert isinstance(drbd, Drbddisk) and drbd.resource == "r0"
    script = registry.resolve(ResourceNode("script", "svc", (("name", "svc"),
                                                             ("file", str(tmp_path / "init.d" / "fakesvc")))))
    assert isinstance(script, LsbAgent) and script.label == "lsb:svc"
    assert isinstance(registry.resolve(ResourceNode("service", "db", (("name", "db"),))), ContainerAgent)
    other = registry.resolve(ResourceNode("Fake", "x", (("name", "x"),)))
    assert isinstance(other, OcfAgent) and other.provider == "test"  # any OCF agent of that name


@pytest.mark.parametrize("node, why", [
    (ResourceNode("drbd", "disk", (("name", "disk"),)), "resource attribute is required"),
    (ResourceNode("script", "svc", (("name", "svc"),)), "file attribute is required"),
    (ResourceNode("fs", "data", (("name", "data"),)), "device and mountpoint are required"),
    (ResourceNode("apache", "web", (("name", "web"),)), "no agent for resource type 'apache'"),
])
def test_bad_cluster_resources(registry: Registry, node: ResourceNode, why: str) -> None:
    with pytest.raises(AgentError, match=why):
        registry.resolve(node)


@dataclass(frozen=True)
class FakeStep:
    op: str
    node: ResourceNode


def test_executor_prints_rg_test_lines_and_agent_output(registry: Registry, tmp_path: Path) -> None:
    out = io.StringIO()
    node = ResourceNode("script", "svc", (("name", "svc"), ("file", str(tmp_path / "init.d" / "fakesvc"))))
    assert executor.run_step(FakeStep("start", node), registry=registry, out=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "[start] script:svc"
    assert lines[1] == f"<info>   Executing {tmp_path}/init.d/fakesvc status"
    assert "<info>   Starting fake" in lines
    assert lines[-1].startswith('<info>   start on script "svc" running in ')


def test_executor_failed_step(registry: Registry, tmp_path: Path) -> None:
    (tmp_path / "quirks").write_text("start-fails")
    out = io.StringIO()
    node = hares("fakesvc")
    assert not executor.run_step(FakeStep("start", node), registry=registry, out=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "[start] fakesvc"
    assert lines[-1].startswith("<err>    start on fakesvc \"fakesvc\" failed in ")
    assert lines[-1].endswith("start returned 6 (program is not configured)")


def test_executor_status_of_a_stopped_resource_is_not_good(registry: Registry) -> None:
    out = io.StringIO()
    assert not executor.run_step(FakeStep("status", hares("fakesvc")), registry=registry, out=out)


def test_executor_unresolvable_resource(registry: Registry) -> None:
    out = io.StringIO()
    assert not executor.run_step(FakeStep("start", hares("nosuch")), registry=registry, out=out)
    assert out.getvalue().splitlines()[-1] == "<err>    nosuch:nosuch: Cannot locate resource script nosuch " \
        f"(looked in built-ins, {registry.resource_dir}, {registry.init_dir})"


def test_command_line_words() -> None:
    assert split_words(["IPaddr2::192.0.2.5/24", "start"]) == ("IPaddr2", ("192.0.2.5/24",), ["start"])
    assert split_words(["Filesystem", "/dev/x", "/mnt", "stop,status"]) == (
        "Filesystem", ("/dev/x", "/mnt"), ["stop", "status"])
    with pytest.raises(AgentError):
        split_words(["IPaddr2", "restart"])
    with pytest.raises(AgentError):
        split_words(["start"])


@pytest.mark.parametrize("kind, op, outcome, code", [
    ("IPaddr2", "status", Outcome.RUNNING, 0), ("IPaddr2", "status", Outcome.STOPPED, 7),
    ("drbddisk", "status", Outcome.STOPPED, 3), ("IPaddr2", "status", Outcome.FAILED, 1),
    ("IPaddr2", "start", Outcome.RUNNING, 0), ("IPaddr2", "start", Outcome.TIMEOUT, 1),
    ("IPaddr2", "stop", Outcome.STOPPED, 0), ("IPaddr2", "stop", Outcome.RUNNING, 1),
])
def test_exit_codes(kind: str, op: str, outcome: Outcome, code: int) -> None:
    assert exit_code(kind, op, outcome) == code


def run_script(name: str, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": path or "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, str(REPO / "resource.d" / name), *args], capture_output=True, text=True,
                          timeout=30, env=env)


def test_resource_d_usage() -> None:
    res = run_script("IPaddr2")
    assert res.returncode == 1 and res.stdout.startswith("usage: ") and "(start|stop|status)" in res.stdout
    res = run_script("Filesystem", "/dev/x", "start")
    assert res.returncode == 1 and "device and directory expected" in res.stdout


def test_resource_d_drbddisk_speaks_like_drbd_utils(tmp_path: Path) -> None:
    fake = agent_fakes.FakeDrbd(tmp_path)
    path = f"{tmp_path}:/usr/sbin:/usr/bin:/sbin:/bin"
    res = run_script("drbddisk", "r0", "status", path=path)
    assert (res.returncode, res.stdout) == (3, "stopped (Secondary)\n")
    fake.set(role="Primary")
    res = run_script("drbddisk", "r0", "status", path=path)
    assert (res.returncode, res.stdout) == (0, "running (Primary)\n")
    res = run_script("drbddisk", "status", path=path)
    assert res.returncode == 10 and "resource" in res.stdout


def test_wrapper_output_follows_hto_mapfuncs() -> None:
    from hbd.agents.base import AgentResult
    from hbd.agents.wrapper import _drbddisk_output, _mapfuncs_output

    assert _mapfuncs_output("status", AgentResult("status", Outcome.RUNNING, actions=("x on eth0",))) == (
        ["INFO: x on eth0", "INFO:  Running OK"], 0)
    assert _mapfuncs_output("status", AgentResult("status", Outcome.STOPPED)) == (["INFO:  Resource is stopped"], 7)
    assert _mapfuncs_output("start", AgentResult("start", Outcome.RUNNING)) == (["INFO:  Success"], 0)
    assert _mapfuncs_output("stop", AgentResult("stop", Outcome.FAILED, "busy")) == (
        ["ERROR: busy", "ERROR:  Generic error"], 1)
    unknown = AgentResult("status", Outcome.FAILED, "cannot determine status, may be running (Unknown)",
                          actions=("drbdadm role r0: Unknown/Unknown",))
    assert _drbddisk_output("status", unknown) == (["cannot determine status, may be running (Unknown)"], 4)
    no_drbdadm = AgentResult("status", Outcome.FAILED, "drbdadm role r0: cannot run: No such file or directory")
    assert _drbddisk_output("status", no_drbdadm) == (
        ["cannot determine status, may be running (drbdadm role r0: cannot run: No such file or directory)"], 4)


def test_executor_reports_an_agent_bug_and_goes_on(registry: Registry) -> None:
    class Broken(ContainerAgent):
        def start(self, deadline):  # type: ignore[no-untyped-def]
            raise KeyError("oops")

    out = io.StringIO()
    node = ResourceNode("service", "db", (("name", "db"),))
    assert not executor.run_step(FakeStep("start", node), out=out, resolve=lambda n: Broken("service", "db"))
    assert out.getvalue().splitlines()[-1] == "<err>    start on service:db: internal error KeyError: 'oops'"
