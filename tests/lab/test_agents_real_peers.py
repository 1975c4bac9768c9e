"""Real peers: Debian's resource-agents (ocf:heartbeat:IPaddr2, Dummy) through hbd's OCF class, Debian
heartbeat's resource.d/IPaddr2 through hbd's resource.d class, and Heartbeat 3.0.6 itself moving a VIP
with hbd's resource.d/IPaddr2 installed in place of its own."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hbd.lab import Lab
from hbd.lab.probes import ArpCapture, VipProbe, client_neighbours
from heartbeat_peer import LOGFILE, install_ha_d_scripts, require_heartbeat, start_heartbeat
from hbd_member import AUTHKEYS, write_config
from tests.lab.agent_helpers import agent, has_address, mac, wait_until

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
OCF_HEARTBEAT = Path("/usr/lib/ocf/resource.d/heartbeat")
VIP = "192.0.2.50"


def require_resource_agents() -> None:
    if not (OCF_HEARTBEAT / "IPaddr2").exists():
        pytest.skip("Debian's resource-agents package is not installed (tests/apt-packages lists it)")


def install_node_scripts(lab: Lab, node: str, ipaddr2: str | None = None) -> Path:
    """Copy the heartbeat package's /etc/ha.d scripts into the node's private /etc/ha.d; optionally put
    another IPaddr2 in resource.d."""
    ha_d = lab.path(node, "/etc/ha.d")
    install_ha_d_scripts(ha_d)
    if ipaddr2 is not None:
        script = ha_d / "resource.d" / "IPaddr2"
        script.write_text(ipaddr2)
        script.chmod(0o755)
    return ha_d


def test_debian_ocf_ipaddr2_through_the_ocf_class(lab: Lab) -> None:
    require_resource_agents()
    words = ["ocf:heartbeat:IPaddr2", f"ip={VIP}", "cidr_netmask=24", "nic=eth0"]
    with ArpCapture(lab) as capture:
        rc, results = agent(lab, "n1", *words, "status,start,start,status")
        assert [r["outcome"] for r in results] == ["stopped", "running", "running", "running"], results
        assert has_address(lab, "n1", VIP)
        assert capture.wait_gratuitous(VIP, count=1, timeout=5), "resource-agents' send_arp reached the client"
    rc, results = agent(lab, "n1", *words, "stop,stop,status")
    assert [r["outcome"] for r in results] == ["stopped", "stopped", "stopped"]
    assert rc == 7 and not has_address(lab, "n1", VIP)


def test_debian_ocf_ipaddr2_missing_ip_is_a_configuration_error(lab: Lab) -> None:
    require_resource_agents()
    rc, (result,) = agent(lab, "n1", "ocf:heartbeat:IPaddr2", "nic=eth0", "start")
    assert rc == 1 and result["reason"] == "missing required parameter(s): ip (program not configured)"


def test_debian_ocf_dummy_through_the_ocf_class(lab: Lab) -> None:
    require_resource_agents()
    rc, results = agent(lab, "n1", "ocf:heartbeat:Dummy", "state=/run/hbd/dummy.state",
                        "status,start,start,status,stop,stop,status")
    assert [r["outcome"] for r in results] == ["stopped", "running", "running", "running", "stopped", "stopped",
                                               "stopped"]


@pytest.mark.parametrize("by_output", [False, True], ids=["exit-code", "heartbeat-text-rule"])
def test_debian_heartbeat_resource_d_ipaddr2_through_the_resource_d_class(lab: Lab, by_output: bool) -> None:
    require_heartbeat()
    require_resource_agents()
    install_node_scripts(lab, "n1")
    options = ["--no-builtin", *(["--status-by-output"] if by_output else [])]
    rc, results = agent(lab, "n1", *options, "IPaddr2", f"{VIP}/24/eth0:3", "status,start,start,status")
    assert [r["outcome"] for r in results] == ["stopped", "running", "running", "running"], results
    assert results[0]["actions"][0] == f"Executing /etc/ha.d/resource.d/IPaddr2 {VIP}/24/eth0:3 status"
    assert "INFO:  Resource is stopped" in results[0]["actions"]
    assert results[2]["actions"][-1] == "already running: start skipped"
    assert has_address(lab, "n1", VIP)
    rc, results = agent(lab, "n1", *options, "IPaddr2", f"{VIP}/24/eth0:3", "stop,stop,status")
    assert [r["outcome"] for r in results] == ["stopped", "stopped", "stopped"]
    assert not has_address(lab, "n1", VIP)


def test_heartbeat_moves_a_vip_with_hbds_ipaddr2(lab: Lab) -> None:
    require_heartbeat()
    hacf = (f"keepalive 500ms\ndeadtime 3000ms\nwarntime 1500ms\ninitdead 6000ms\nudpport 694\nbcast eth0 eth1\n"
            f"auto_failback on\nlogfile {LOGFILE}\ndebugfile {LOGFILE}\nnode {' '.join(lab.nodes)}\n")
    ours = f"#!/bin/sh\nexec {sys.executable} {REPO / 'resource.d' / 'IPaddr2'} \"$@\"\n"
    for node in lab.nodes:
        ha_d = write_config(lab, node, hacf, AUTHKEYS)
        (ha_d / "haresources").write_text(f"n1 IPaddr2::{VIP}/24/eth0\n")
        install_node_scripts(lab, node, ipaddr2=ours)
    peers = [start_heartbeat(lab, node) for node in lab.nodes]
    try:
        with VipProbe(lab, VIP) as probe:
            assert probe.wait_for("n1", timeout=40), f"the VIP never answered from n1\n{peers[0].log()[-3000:]}"
            mark = len(peers[1].log())
            with ArpCapture(lab) as capture:
                peers[0].stop()  # graceful: n1 gives the group up, n2 takes it over at once
                assert probe.wait_for("n2", timeout=20), f"the VIP never moved to n2\n{peers[1].log()[-3000:]}"
                garps = capture.wait_gratuitous(VIP, count=1, timeout=5)
        assert any(e.hwsrc == mac(lab, "n2") for e in garps)
        assert wait_until(lambda: client_neighbours(lab).get(VIP) == mac(lab, "n2"), timeout=2)
        assert not has_address(lab, "n1", VIP) and has_address(lab, "n2", VIP)
        log = peers[1].log()[mark:]
        assert f"Running /etc/ha.d//resource.d/IPaddr2 {VIP}/24/eth0 start" in log, log[-3000:]  # its own "//"
        assert "Adding inet address" in log
    finally:
        for peer in peers:
            peer.stop()
