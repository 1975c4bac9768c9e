"""Client probes: the VIP probe's outage record, the gratuitous-ARP capture, the neighbour cache."""
from __future__ import annotations

import sys
import time

import pytest

from hbd.lab import Lab
from hbd.lab.probes import ArpCapture, VipProbe, client_neighbours

pytestmark = pytest.mark.lab
VIP = "192.0.2.50"


def add_vip(lab: Lab, node: str) -> None:
    lab.exec(node, ["ip", "addr", "add", f"{VIP}/24", "dev", "eth0"])


def del_vip(lab: Lab, node: str) -> None:
    lab.exec(node, ["ip", "addr", "del", f"{VIP}/24", "dev", "eth0"])


def send_garp(lab: Lab, node: str) -> None:
    """Announce the VIP the way an IP takeover does (arping ships with iputils; scapy is always there)."""
    code = (
        "from scapy.all import ARP, Ether, sendp, get_if_hwaddr;"
        f"mac=get_if_hwaddr('eth0');"
        f"sendp(Ether(src=mac,dst='ff:ff:ff:ff:ff:ff')/ARP(op=1,hwsrc=mac,psrc='{VIP}',pdst='{VIP}',"
        "hwdst='00:00:00:00:00:00'),iface='eth0',count=2,inter=0.05,verbose=False)"
    )
    lab.exec(node, [sys.executable, "-c", code], timeout=30)


def test_vip_probe_records_the_outage_and_who_answers(lab: Lab) -> None:
    add_vip(lab, "n1")
    with VipProbe(lab, VIP, interval=0.02, timeout=0.1) as probe:
        assert probe.wait_for("n1", timeout=5)
        del_vip(lab, "n1")
        assert probe.wait_for(None, timeout=5)
        gap_start = time.monotonic()
        time.sleep(0.2)  # a failover's dead time, which the probe must measure
        add_vip(lab, "n2")
        send_garp(lab, "n2")  # the client still caches n1's MAC for the VIP
        assert probe.wait_for("n2", timeout=10)
    assert probe.answerers() == ["n1", "n2"]
    t_first, who_first = probe.transitions[0]
    assert who_first == "n1" and t_first < gap_start
    outages = probe.outages()
    assert len(outages) == 1
    start, end = outages[0]
    assert end is not None and end - start >= 0.2
    assert start <= gap_start


def test_arp_capture_reports_gratuitous_arps_and_the_neighbour_cache_follows(lab: Lab) -> None:
    add_vip(lab, "n1")
    with VipProbe(lab, VIP) as probe:
        assert probe.wait_for("n1", timeout=5)  # the client now caches n1's MAC
    assert client_neighbours(lab)[VIP] == lab.layout.mac("n1", 0)
    with ArpCapture(lab) as capture:
        del_vip(lab, "n1")
        add_vip(lab, "n2")
        before = time.monotonic()
        send_garp(lab, "n2")
        garps = capture.wait_gratuitous(VIP, count=2, timeout=10)
    assert len(garps) >= 2
    assert all(g.hwsrc == lab.layout.mac("n2", 0) and g.t >= before for g in garps)
    assert capture.gratuitous("192.0.2.99") == []
    assert client_neighbours(lab)[VIP] == lab.layout.mac("n2", 0)
