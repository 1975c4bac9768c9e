"""IPaddr2 in lab nodes on a real kernel: placement, gratuitous ARP seen by the client, the duplicate
probe, idempotent stop, and the IPv6 equivalent (unsolicited neighbour advertisements)."""
from __future__ import annotations

import sys

import pytest

from hbd.lab import Lab
from hbd.lab.probes import ArpCapture, client_neighbours
from tests.lab.agent_helpers import (NaCapture, addresses, agent, client_neighbours6, enable_ipv6, has_address, mac,
                                     wait_until)

pytestmark = pytest.mark.lab

VIP = "192.0.2.50"
VIP6 = "2001:db8::50"


def move_client_to(lab: Lab, node: str, arg: str) -> None:
    """Put the VIP on node and have the client talk to it, so the client's cache holds node's MAC."""
    rc, _ = agent(lab, node, "IPaddr2", arg, "start")
    assert rc == 0
    lab.client_exec(["ping", "-c", "1", "-W", "2", VIP])
    assert client_neighbours(lab).get(VIP) == mac(lab, node)


def test_address_label_prefix_and_interface(lab: Lab) -> None:
    rc, (result,) = agent(lab, "n1", "IPaddr2", f"{VIP}/24/eth0:7", "start")
    assert rc == 0 and result["outcome"] == "running"
    (entry,) = [a for a in addresses(lab, "n1") if a["local"] == VIP]
    assert (entry["prefixlen"], entry["label"], entry["family"]) == (24, "eth0:7", "inet")
    assert not has_address(lab, "n1", VIP, "eth1")


def test_interface_and_prefix_found_from_the_routes(lab: Lab) -> None:
    rc, _ = agent(lab, "n1", "IPaddr2", "198.51.100.50", "start")
    assert rc == 0
    (entry,) = [a for a in addresses(lab, "n1", "eth1") if a["local"] == "198.51.100.50"]
    assert entry["prefixlen"] == 24


def test_gratuitous_arp_within_50ms_and_the_client_cache_follows(lab: Lab) -> None:
    move_client_to(lab, "n2", f"{VIP}/24/eth0")
    assert agent(lab, "n2", "IPaddr2", f"{VIP}/24/eth0", "stop")[0] == 0
    n1_mac = mac(lab, "n1")
    with ArpCapture(lab) as capture:
        rc, (result,) = agent(lab, "n1", "IPaddr2", f"{VIP}/24/eth0", "start")
        assert rc == 0
        events = capture.wait_gratuitous(VIP, count=10, timeout=5)
    ours = [e for e in events if e.hwsrc == n1_mac]
    assert ours, "no gratuitous ARP from n1 reached the client"
    assert result["t_call"] <= ours[0].t <= result["t_done"] + 0.05
    # Heartbeat's pattern: 5 request/reply pairs, the rounds 100 ms apart.
    assert [e.op for e in ours[:10]] == [1, 2] * 5
    assert ours[9].t - ours[0].t >= 0.35
    assert wait_until(lambda: client_neighbours(lab).get(VIP) == n1_mac, timeout=2)


def test_without_probe_the_first_announcement_leaves_at_once(lab: Lab) -> None:
    with ArpCapture(lab) as capture:
        rc, (result,) = agent(lab, "n1", "--arp-probe-ms", "0", "IPaddr2", f"{VIP}/24/eth0", "start")
        events = capture.wait_gratuitous(VIP, count=1, timeout=5)
    assert rc == 0 and events
    assert events[0].t - result["t_call"] <= 0.05


def test_duplicate_probe_refuses_and_names_the_holder(lab: Lab) -> None:
    assert agent(lab, "n2", "IPaddr2", f"{VIP}/24/eth0", "start")[0] == 0
    rc, (result,) = agent(lab, "n1", "IPaddr2", f"{VIP}/24/eth0", "start")
    assert rc == 1 and result["outcome"] == "failed"
    assert result["reason"] == f"{VIP} is already in use by {mac(lab, 'n2')} on eth0"
    assert not has_address(lab, "n1", VIP)


def test_stop_twice_and_status(lab: Lab) -> None:
    arg = f"{VIP}/24/eth0:1"
    rc, results = agent(lab, "n1", "IPaddr2", arg, "start,status,stop,stop,status")
    assert [r["outcome"] for r in results] == ["running", "running", "stopped", "stopped", "stopped"]
    assert rc == 7  # the last operation, status of a stopped address
    assert results[3]["actions"] == [f"{VIP} is not configured: nothing to do"]
    assert not has_address(lab, "n1", VIP)


def test_monitor_link_fails_status_on_a_link_without_carrier(lab: Lab) -> None:
    arg = f"{VIP}/24/eth0"
    assert agent(lab, "n1", "--monitor-link", "IPaddr2", arg, "start")[0] == 0
    lab.cut("n1", 0, how="link")
    rc, (plain,) = agent(lab, "n1", "IPaddr2", arg, "status")
    rc_link, (linked,) = agent(lab, "n1", "--monitor-link", "IPaddr2", arg, "status")
    lab.restore("n1", 0)
    assert (rc, plain["outcome"]) == (0, "running")
    assert (rc_link, linked["outcome"], linked["reason"]) == (1, "failed", "link down on eth0")


def poke6(lab: Lab) -> None:
    """One datagram from the client to VIP6: the client resolves the address and caches its MAC."""
    lab.client_exec([sys.executable, "-c", "import socket; s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); "
                     f"s.sendto(b'x', ('{VIP6}', 9))"])


def test_ipv6_advertisements_probe_and_cache(lab: Lab) -> None:
    enable_ipv6(lab, ["n1", "n2"])
    lab.client_exec(["ip", "addr", "add", "2001:db8::100/64", "dev", "eth0", "nodad"])
    arg = f"{VIP6}/64/eth0"
    assert agent(lab, "n2", "IPaddr2", arg, "start")[0] == 0
    poke6(lab)
    assert wait_until(lambda: client_neighbours6(lab).get(VIP6) == mac(lab, "n2"), timeout=2)
    rc, (refused,) = agent(lab, "n1", "IPaddr2", arg, "start")
    assert rc == 1 and refused["reason"] == f"{VIP6} is already in use by {mac(lab, 'n2')} on eth0"
    assert agent(lab, "n2", "IPaddr2", arg, "stop")[0] == 0
    capture = NaCapture(lab)
    try:
        rc, (result,) = agent(lab, "n1", "IPaddr2", arg, "start")
        assert rc == 0
        n1_mac = mac(lab, "n1")
        assert wait_until(lambda: client_neighbours6(lab).get(VIP6) == n1_mac, timeout=2)
    finally:
        seen = capture.stop()
    ours = [a for a in seen if a["tgt"] == VIP6 and a["lladdr"] == n1_mac]
    assert ours and ours[0]["O"] == 1 and ours[0]["dst"] == "33:33:00:00:00:01"
    assert result["t_call"] <= ours[0]["t"] <= result["t_done"] + 0.05
    entry = [a for a in addresses(lab, "n1") if a["local"] == VIP6]
    assert entry and entry[0]["prefixlen"] == 64
    # A second address without interface or prefix: both come from the connected route of the first.
    rc, _ = agent(lab, "n1", "IPaddr2", "2001:db8::51", "start")
    assert rc == 0 and [a["prefixlen"] for a in addresses(lab, "n1") if a["local"] == "2001:db8::51"] == [64]
    assert agent(lab, "n1", "IPaddr2", "2001:db8::51", "stop")[0] == 0
    rc, results = agent(lab, "n1", "IPaddr2", arg, "stop,stop,status")
    assert [r["outcome"] for r in results] == ["stopped", "stopped", "stopped"]


def test_ipaddr_takes_the_first_free_alias_label(lab: Lab) -> None:
    assert agent(lab, "n1", "--garp-count", "1", "IPaddr", f"{VIP}/24/eth0", "start")[0] == 0
    assert agent(lab, "n1", "--garp-count", "1", "IPaddr", "192.0.2.51", "start")[0] == 0
    labels = {a["local"]: a.get("label") for a in addresses(lab, "n1")}
    assert (labels[VIP], labels["192.0.2.51"]) == ("eth0:0", "eth0:1")
    assert agent(lab, "n1", "IPaddr", f"{VIP}/24/eth0", "stop")[0] == 0
    assert agent(lab, "n1", "--garp-count", "1", "IPaddr", "192.0.2.52", "start")[0] == 0
    assert {a["local"]: a.get("label") for a in addresses(lab, "n1")}["192.0.2.52"] == "eth0:0"
