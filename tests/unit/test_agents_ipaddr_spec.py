"""IPaddr2 arguments: every Heartbeat form (heartbeat.md §4.3) and cluster.conf `<ip>` attributes."""
from __future__ import annotations

import ipaddress

import pytest

from hbd.agents.ipaddr_spec import IpSpec, parse_cluster_attrs, parse_heartbeat
from hbd.errors import AgentError

V4 = ipaddress.IPv4Address


@pytest.mark.parametrize("arg, prefix, iface, label, brd", [
    ("192.0.2.103", None, None, None, None),
    ("192.0.2.100/24", 24, None, None, None),
    ("192.0.2.100/24/eth0", 24, "eth0", None, None),
    ("192.0.2.101/24/eth0:7", 24, "eth0", "eth0:7", None),
    ("192.0.2.104/24/192.0.2.255", 24, None, None, "192.0.2.255"),
    ("192.0.2.102/24/eth1/192.0.2.127", 24, "eth1", None, "192.0.2.127"),
    ("192.0.2.102/24/eth1:0/192.0.2.255", 24, "eth1", "eth1:0", "192.0.2.255"),
])
def test_heartbeat_forms(arg: str, prefix: int | None, iface: str | None, label: str | None, brd: str | None) -> None:
    spec = parse_heartbeat(arg)
    assert (str(spec.address), spec.prefix, spec.iface, spec.label) == (arg.split("/")[0], prefix, iface, label)
    assert spec.broadcast == (V4(brd) if brd else None)
    assert spec.warnings == ()


def test_dotted_netmask_is_converted_with_heartbeats_warning() -> None:
    spec = parse_heartbeat("192.0.2.102/255.255.255.0/eth0/192.0.2.255")
    assert spec.prefix == 24
    assert spec.warnings == ("Please convert dotted quad netmask 255.255.255.0 to CIDR notation 24!",)


def test_ipv6() -> None:
    spec = parse_heartbeat("2001:db8::50/64/eth0")
    assert (spec.family, spec.prefix, spec.iface, spec.text) == (6, 64, "eth0", "2001:db8::50/64")


@pytest.mark.parametrize("arg, why", [
    ("", "bad IPaddr2 argument"),
    ("192.0.2.300/24", "not an IPv4 or IPv6 address"),
    ("192.0.2.1/33", "out of range"),
    ("192.0.2.1/255.0.255.0", "contiguous netmask"),
    ("192.0.2.1/24/eth0:averyveryverylonglabel", "longer than 15"),
    ("192.0.2.1/24/192.0.2.255/eth0", "nothing may follow the broadcast"),
    ("2001:db8::1/64/eth0:1", "labels"),
    ("2001:db8::1/64/eth0/192.0.2.255", "broadcast"),
    ("192.0.2.1/24/eth0/notanip", "not an IPv4 or IPv6 address"),
    ("a/b/c/d/e", "bad IPaddr2 argument"),
])
def test_bad_arguments_are_refused_with_a_reason(arg: str, why: str) -> None:
    with pytest.raises(AgentError, match=why):
        parse_heartbeat(arg)


def test_cluster_conf_attributes() -> None:
    spec = parse_cluster_attrs({"address": "192.0.2.50/24", "monitor_link": "0", "sleeptime": "2",
                                "family": "inet", "arp_probe_ms": "0", "garp_count": "3", "garp_interval_ms": "50"})
    assert spec == IpSpec(V4("192.0.2.50"), prefix=24, monitor_link=False, sleeptime_s=2.0, probe_ms=0,
                          garp_count=3, garp_interval_ms=50)


def test_cluster_conf_defaults_monitor_link_on_and_no_sleep() -> None:
    spec = parse_cluster_attrs({"address": "2001:db8::7", "prefer_interface": "eth1"})
    assert (spec.monitor_link, spec.sleeptime_s, spec.prefix, spec.iface, spec.family) == (True, 0.0, None, "eth1", 6)


@pytest.mark.parametrize("attrs, why", [
    ({}, "address attribute is required"),
    ({"address": "192.0.2.5", "family": "inet6"}, "not of family inet6"),
    ({"address": "192.0.2.5", "family": "ipx"}, "not one of"),
    ({"address": "192.0.2.5", "monitor_link": "maybe"}, "not a boolean"),
    ({"address": "192.0.2.5", "sleeptime": "-1"}, "must not be negative"),
    ({"address": "192.0.2.5", "garp_count": "0"}, "at least 1"),
    ({"address": "192.0.2.5", "arp_probe_ms": "soon"}, "not a number"),
])
def test_bad_cluster_attributes(attrs: dict[str, str], why: str) -> None:
    with pytest.raises(AgentError, match=why):
        parse_cluster_attrs(attrs)


def test_ipaddr_defaults() -> None:
    from hbd.agents.ipaddr_spec import as_ipaddr

    spec = as_ipaddr(parse_heartbeat("192.0.2.5"))
    assert (spec.alias_label, spec.garp_count, spec.garp_interval_ms) == (True, 10, 500)
    assert as_ipaddr(parse_heartbeat("192.0.2.5/24/eth0:3")).alias_label is False  # a label given is kept
