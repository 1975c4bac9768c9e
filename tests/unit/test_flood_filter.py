"""The cheapest drops: the kernel filter on a heartbeat socket (length, start marker, source network, flood
mode) and the daemon's checking budget for unknown sources. Real sockets on 127.0.0.1, no privilege."""
from __future__ import annotations

import socket
import time

import pytest

from hbd.runtime import socket_filter
from hbd.runtime.admission import UNKNOWN_BURST, Admission

MESSAGE = b"###\n" + b"x" * 20 + b"%%%\n6:1 abc,"
LOOPBACK_NET = (0x7F000000, 0xFF000000)
OTHER_NET = (0xC0000200, 0xFFFFFF00)  # 192.0.2.0/24


def received(networks, known, data: bytes, count: int = 1) -> int:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with rx, tx:
        rx.bind(("127.0.0.1", 0))
        rx.setblocking(False)
        assert socket_filter.attach(rx, networks, known)
        for _ in range(count):
            tx.sendto(data, rx.getsockname())
        got, deadline = 0, time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                rx.recv(65536)
                got += 1
            except BlockingIOError:
                if got >= count:
                    break
                time.sleep(0.01)
        return got


@pytest.mark.parametrize("networks", [None, [LOOPBACK_NET], [OTHER_NET, LOOPBACK_NET]])
def test_a_message_from_the_network_passes(networks) -> None:
    assert received(networks, None, MESSAGE) == 1
    assert received(networks, None, b">>>\nt=status\nauth=1 ab\n<<<\n") == 1


@pytest.mark.parametrize("data", [b"garbage that is long enough", b"###\n", b"x" * 1000, b"\x00" * 40])
def test_impossible_starts_and_lengths_are_dropped_in_the_kernel(data: bytes) -> None:
    assert received(None, None, data) == 0


def test_a_source_outside_the_network_is_dropped_in_the_kernel() -> None:
    assert received([OTHER_NET], None, MESSAGE) == 0


def test_flood_mode_passes_known_sources_and_samples_the_others() -> None:
    assert received([LOOPBACK_NET], [0x7F000001], MESSAGE, 200) == 200
    sampled = received([LOOPBACK_NET], [0x7F000002], MESSAGE, 3200)
    assert 10 <= sampled <= 150, sampled  # 1 in 64 of 3200 is 50 on average


def test_unknown_sources_get_a_budget_known_ones_none() -> None:
    gate = Admission()
    stranger, node = ("192.0.2.99", 1), ("192.0.2.12", 694)
    admitted = sum(gate.admit("eth0", stranger, 100.0) for _ in range(int(UNKNOWN_BURST) + 500))
    assert admitted == int(UNKNOWN_BURST)
    assert not gate.admit("eth0", node, 100.0)  # not learned yet: the budget is spent
    assert gate.learn("eth0", node) and not gate.learn("eth0", node)
    assert all(gate.admit("eth0", node, 100.0) for _ in range(10_000))
    assert gate.admit("eth0", stranger, 101.0)  # the budget refills with time
    assert gate.admit("eth0", None, 100.0)  # our own copy handed up by the transport
