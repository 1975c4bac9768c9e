"""The ping monitor (hbd/runtime/ping_monitor.py): reachability within deadping, groups, reports only on change,
echo packets, and one real round over loopback."""
from __future__ import annotations

import asyncio
import os
import struct

import pytest

from hbd.runtime.ping_monitor import PingMonitor, PingTargets, Reachability, _checksum, echo_request, parse_reply

TARGETS = PingTargets({"192.0.2.254": ("192.0.2.254",), "gw": ("198.51.100.1", "198.51.100.2")}, 100, 1000)


def test_first_verdict_at_the_first_reply_or_after_deadping_then_only_changes() -> None:
    state = Reachability(TARGETS, 0)
    assert state.change(500) is None  # nothing heard yet, deadping not over: no verdict
    state.replied("198.51.100.2", 600)  # one member of the group answers: the group is reachable
    assert state.change(600) == {"gw"}
    assert state.change(700) is None  # unchanged: not reported again
    state.replied("192.0.2.254", 800)
    assert state.change(800) == {"gw", "192.0.2.254"}
    assert state.change(1599) is None
    assert state.change(1600) == {"192.0.2.254"}  # the group's last reply is deadping old
    assert state.change(1800) == frozenset()


def test_nothing_answers_is_a_verdict_after_deadping() -> None:
    state = Reachability(TARGETS, 0)
    assert state.change(999) is None
    assert state.change(1000) == frozenset()
    assert state.change(1100) is None


def test_echo_request_checksum_and_reply_matching() -> None:
    packet = echo_request(0x1234, 7)
    assert packet[0] == 8 and _checksum(packet) == 0
    reply = struct.pack("!BBHHH", 0, 0, 0, 0x1234, 7) + b"x"
    ip = bytes([0x45]) + bytes(19)
    assert parse_reply(ip + reply, True, 0x1234)
    assert not parse_reply(ip + reply, True, 0x4321)  # another process's echo on a raw socket
    assert parse_reply(reply, False, 0)  # datagram sockets: the kernel already matched it
    assert not parse_reply(ip + packet, True, 0x1234)  # a request, not a reply


@pytest.mark.skipif(os.geteuid() != 0, reason="ICMP sockets need root (or net.ipv4.ping_group_range)")
def test_a_real_round_over_loopback() -> None:
    reports: list[frozenset[str]] = []

    async def run() -> None:
        # a group of a name resolved once at start (/etc/hosts) beside an address
        monitor = PingMonitor(PingTargets({"127.0.0.1": ("127.0.0.1",), "lo": ("localhost",)}, 50, 500),
                              reports.append)
        monitor.start(asyncio.get_running_loop())
        try:
            for _ in range(100):  # bounded: 2 s
                if reports and reports[-1] == {"127.0.0.1", "lo"}:
                    break
                await asyncio.sleep(0.02)
        finally:
            monitor.close()

    asyncio.run(run())
    assert reports and reports[-1] == {"127.0.0.1", "lo"}, reports
