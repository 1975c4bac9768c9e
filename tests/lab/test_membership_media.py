"""Two hbd nodes on two media in the lab: one medium cut kills that link only, both cut kills the node at
deadtime (measured from the cut, within 250 ms), for bcast, mcast and ucast media."""
from __future__ import annotations

import time

import pytest

from hbd.lab import Lab
from hbd_member import hacf_text, is_link, is_node, start_member, wait_out_startup_dt, write_config

DEADTIME_S = 2.0


@pytest.mark.parametrize("kind", ["bcast", "mcast", "ucast"])
def test_cut_one_medium_then_both(lab: Lab, kind: str) -> None:
    for node in lab.nodes:
        write_config(lab, node, hacf_text(lab, kind))
    members = {node: start_member(lab, node) for node in lab.nodes}
    n1 = members["n1"]
    try:
        started = time.monotonic()
        n1.wait_for(is_node("n2", "active"), timeout=10)
        for link in ("eth0", "eth1"):
            n1.wait_for(is_link("n2", link, True), timeout=5)
            members["n2"].wait_for(is_link("n1", link, True), timeout=5)
        wait_out_startup_dt(started)

        lab.cut("n2", 1)
        cut_one = time.monotonic()
        event = n1.wait_for(is_link("n2", "eth1", False), timeout=DEADTIME_S + 3)
        assert event["t"] - cut_one <= DEADTIME_S + 0.25
        time.sleep(DEADTIME_S + 0.5)  # a whole deadtime more on one medium: the node must stay alive
        events = n1.drain()
        assert not any(is_node("n2", "dead")(r) for r in events), events
        assert not any(is_link("n2", "eth0", False)(r) for r in events), events

        lab.cut("n2", 0)
        cut_both = time.monotonic()
        dead = n1.wait_for(is_node("n2", "dead"), timeout=DEADTIME_S + 3)
        detection = dead["t"] - cut_both
        print(f"{kind}: n2 declared dead {detection:.3f} s after both media were cut (deadtime {DEADTIME_S} s)")
        assert abs(detection - DEADTIME_S) <= 0.25, detection
        n1.wait_for(is_link("n2", "eth0", False), timeout=1)
        log = n1.log()
        assert "WARN: node n2: is dead" in log and "info: Link n2:eth1 dead." in log
        assert "info: Link n2:eth0 dead." in log
    finally:
        for member in members.values():
            member.stop()


def test_bcast_on_an_address_without_broadcast_uses_the_prefix(lab: Lab) -> None:
    """Heartbeat's bcast sends nowhere on such an address; hbd derives 192.0.2.255 from the /24 and says so."""
    address = f"{lab.address('n1', 0)}/24"
    lab.exec("n1", ["ip", "addr", "del", address, "dev", "eth0"])
    lab.exec("n1", ["ip", "addr", "add", address, "dev", "eth0"])  # no `brd`
    assert " brd " not in lab.exec("n1", ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]).stdout
    for node in lab.nodes:
        write_config(lab, node, hacf_text(lab, "bcast"))
    members = {node: start_member(lab, node) for node in lab.nodes}
    try:
        members["n2"].wait_for(is_link("n1", "eth0", True), timeout=10)
        assert "WARN: interface eth0 has no broadcast address: using 192.0.2.255" in members["n1"].log()
    finally:
        for member in members.values():
            member.stop()
