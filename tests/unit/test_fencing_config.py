"""Fence plans from cluster.conf (<fencedevices>, <clusternode><fence>) and from ha.cf's stonith_host."""
from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from hbd.config import load
from hbd.config.clusterconf import load_cluster_conf
from hbd.errors import ConfigError, Problems
from hbd.fencing.agent import run_agent
from hbd.fencing.from_hacf import parse_stonith_host, peer_fencing
from hbd.lab.fence_agent import read_options
from hbd.lab.power_switch import PowerSwitch
from heartbeat_files import HACF, hacf_of, one_error, write_dir


@pytest.fixture
def agent(tmp_path: Path) -> Path:
    exe = tmp_path / "fence_test"
    exe.write_text("#!/bin/sh\ncat >/dev/null\nexit 0\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


def cluster_conf(tmp_path: Path, agent: Path, nodes: str) -> Path:
    path = tmp_path / "cluster.conf"
    path.write_text(f"""<?xml version="1.0"?>
<cluster name="c" config_version="1">
  <clusternodes>
{nodes}
  </clusternodes>
  <fencedevices>
    <fencedevice name="ipmi-n1" agent="{agent}" ip="192.0.2.101" login="admin" passwd="pw"/>
    <fencedevice name="pdu" agent="{agent}" ip="192.0.2.200"/>
  </fencedevices>
  <rm/>
</cluster>
""")
    return path


NODES = """    <clusternode name="n1" nodeid="1">
      <fence>
        <method name="ipmi"><device name="ipmi-n1"/></method>
        <method name="power"><device name="pdu" plug="1"/><device name="pdu" plug="2"/></method>
      </fence>
    </clusternode>
    <clusternode name="n2" nodeid="2"/>"""


def test_cluster_conf_methods_in_order_with_merged_parameters(tmp_path: Path, agent: Path) -> None:
    problems = Problems()
    conf = load_cluster_conf(cluster_conf(tmp_path, agent, NODES), problems)
    assert not [p for p in problems.items if p.severity == "error"], [str(p) for p in problems.items]
    (plan,) = conf.fence_plans
    assert plan.node == "n1" and [m.name for m in plan.methods] == ["ipmi", "power"]
    assert plan.methods[0].devices[0].merged == (("ip", "192.0.2.101"), ("login", "admin"), ("passwd", "pw"))
    assert [d.merged for d in plan.methods[1].devices] == [(("ip", "192.0.2.200"), ("plug", "1")),
                                                           (("ip", "192.0.2.200"), ("plug", "2"))]


@pytest.mark.parametrize("nodes,expected", [
    ('<clusternode name="n1" nodeid="1"><fence><method name="m"><device name="nosuch"/></method></fence></clusternode>',
     "names device nosuch, which is not a <fencedevice>"),
    ('<clusternode name="n1" nodeid="1"><fence><method name="m"/></fence></clusternode>', "has no device"),
    ('<clusternode name="n1" nodeid="1"><fence><method name="m"><device name="pdu"/></method>'
     '<method name="m"><device name="pdu"/></method></fence></clusternode>', "fence method m is given twice"),
])
def test_cluster_conf_fence_errors_name_the_line(tmp_path: Path, agent: Path, nodes: str, expected: str) -> None:
    path = cluster_conf(tmp_path, agent, nodes)
    with pytest.raises(ConfigError) as info:
        load(path)
    (problem,) = [p for p in info.value.problems if p.severity == "error"]
    assert expected in problem.text and problem.line == 4 and problem.file == str(path)


def test_cluster_conf_agent_must_be_installed(tmp_path: Path) -> None:
    path = cluster_conf(tmp_path, Path("/nonexistent/fence_gone"), NODES)
    with pytest.raises(ConfigError) as info:
        load(path)
    assert any("fence agent /nonexistent/fence_gone is not installed" in p.text for p in info.value.problems)


# --- ha.cf -----------------------------------------------------------------------------------------

def test_stonith_host_names_a_fence_agent(tmp_path: Path, agent: Path) -> None:
    line = parse_stonith_host(f"n1 {agent} ip=192.0.2.7 username=admin password=secret")
    assert line.hostfrom == "n1" and line.params == (("ip", "192.0.2.7"), ("username", "admin"), ("password", "secret"))
    hacf, problems = hacf_of(tmp_path, HACF + f"stonith_host * {agent} ip=192.0.2.7\nstonith_host n2 {agent} plug=x\n"
                                              f"stonith_host n1 {agent} port=vm1\n")
    assert hacf is not None, [str(p) for p in problems]
    fencing = peer_fencing(hacf, "n2")
    assert fencing.configured and not fencing.manual
    # the n2 line is n2's own device; `*` and n1 apply here, in file order; plug= added where none is given
    assert [m.devices[0].merged for m in fencing.plan.methods] == [(("ip", "192.0.2.7"), ("plug", "n2")),
                                                                   (("port", "vm1"),)]


@pytest.mark.parametrize("value,expected", [
    ("* baytech 10.0.0.3 mylogin mysecretpassword", "Heartbeat STONITH plugin"),
    ("* external/ssh n2", "Heartbeat STONITH plugin"),
    ("*", "needs HOSTFROM and a fence agent"),
    ("* fence_definitely_not_installed ip=1", "is not installed"),
    ("* {agent} ip", "key=value"),
    ("* {agent} action=off", "action= is chosen by hbd"),
    ("* meatware n2", "meatware takes no parameters"),
])
def test_stonith_host_refusals(tmp_path: Path, agent: Path, value: str, expected: str) -> None:
    hacf, problems = hacf_of(tmp_path, HACF + "stonith_host " + value.format(agent=agent) + "\n")
    assert hacf is None
    error = one_error(problems)
    assert error.line == 7 and expected in error.text, str(error)


def test_meatware_means_confirmation_by_hand(tmp_path: Path) -> None:
    hacf, _ = hacf_of(tmp_path, HACF + "stonith_host * meatware\n")
    assert hacf is not None
    fencing = peer_fencing(hacf, "n2")
    assert fencing.manual and fencing.configured and not fencing.plan.methods
    bare, _ = hacf_of(tmp_path, HACF)
    assert bare is not None and not peer_fencing(bare, "n2").configured


def test_config_check_and_the_daemon_agree_on_stonith_host(tmp_path: Path, agent: Path) -> None:
    hbd_exe = str(Path(sys.executable).parent / "hbd")
    good = write_dir(tmp_path, hacf=HACF + f"stonith_host * {agent} ip=192.0.2.7\n")
    assert subprocess.run([hbd_exe, "config", "check", "-c", str(good), "--node", "n1"],
                          capture_output=True, text=True).returncode == 0
    (tmp_path / "b").mkdir()
    bad = write_dir(tmp_path / "b", hacf=HACF + "stonith_host * apcsmart /dev/ttyS1 n2\n")
    check = subprocess.run([hbd_exe, "config", "check", "-c", str(bad), "--node", "n1"], capture_output=True, text=True)
    assert check.returncode == 1 and "Heartbeat STONITH plugin" in check.stdout + check.stderr
    with pytest.raises(ConfigError):
        load(bad, "n1")


# --- the lab's fence agent and power switch --------------------------------------------------------

class FakeLab:
    """What the power switch uses of a Lab: nodes, power state, power_off/boot, the lab's directories."""

    def __init__(self, root: Path):
        self.nodes = ["n1", "n2"]
        self.state = {"powered_off": []}
        self.layout = SimpleNamespace(dir=root, bin_dir=root / "bin")

    def power_off(self, node: str) -> None:
        if node not in self.state["powered_off"]:
            self.state["powered_off"].append(node)

    def boot(self, node: str) -> None:
        self.state["powered_off"].remove(node)


def test_lab_agent_reads_stdin_and_arguments() -> None:
    assert read_options(["--plug=n2"], "action=off\nport=n1\n# note\n") == {"action": "off", "port": "n1", "plug": "n2"}
    assert read_options([], "port=n1\n")["plug"] == "n1"


def test_lab_agent_powers_a_node_off_through_the_switch(tmp_path: Path) -> None:
    lab = FakeLab(tmp_path)
    with PowerSwitch(lab) as switch:  # type: ignore[arg-type]
        exe = str(tmp_path / "bin" / "fence_hbdlab")
        params = [("socket", str(switch.path)), ("plug", "n1")]
        assert run_agent(exe, params, "status", 30).power == "on"
        assert run_agent(exe, params, "off", 30).ok
        assert lab.state["powered_off"] == ["n1"]
        assert run_agent(exe, params, "status", 30).power == "off"
        assert run_agent(exe, params, "reboot", 30).ok and lab.state["powered_off"] == []
        assert run_agent(exe, [("socket", str(switch.path))], "monitor", 30).ok
        bad = run_agent(exe, [("socket", str(switch.path)), ("plug", "n9")], "off", 30)
        assert not bad.ok and bad.code == 1 and "no outlet" in bad.output
        switch.broken = True
        assert not run_agent(exe, params, "off", 30).ok and lab.state["powered_off"] == []
        assert switch.fenced() == ["n1", "n1", "n9", "n1"]
        assert '<resource-agent name="fence_hbdlab"' in run_agent(exe, [], "metadata", 30).output
    assert not switch.path.exists()
