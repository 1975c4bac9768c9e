"""The VIP carrier rule's pure parts (hbd/core/link_rule.py): the placement wrapper moves a group off a node
without carrier only to a live node that reported carrier there; the link state counts carrier lost at
once and carrier back only after the hold; the wire field."""
from __future__ import annotations

import pytest

from hbd.core import link_rule as lr
from hbd.core.holdings import GroupInfo, Topology
from hbd.core.placement import NodeState, PreferredNode, Situation

TOPOLOGY = Topology((GroupInfo("g1", "n1"), GroupInfo("g2", "n2")))


def situation(held: dict[str, str], alive: tuple[str, ...] = ("n1", "n2")) -> Situation:
    nodes = tuple(NodeState(name, name in alive) for name in ("n1", "n2"))
    return Situation(nodes, TOPOLOGY.groups, {k: frozenset({v}) for k, v in held.items()})


def holders(down: dict[str, frozenset[str]], held: dict[str, str], alive: tuple[str, ...] = ("n1", "n2"),
            auto_failback: bool = True) -> dict[str, str | None]:
    placement = lr.AvoidDeadLinks(PreferredNode(auto_failback=auto_failback), lambda: down)
    return {k: d.holder for k, d in placement.place(situation(held, alive)).items()}


NONE: frozenset[str] = frozenset()
G1 = frozenset({"g1"})


@pytest.mark.parametrize("down, held, alive, expected", [
    ({}, {"g1": "n1"}, ("n1", "n2"), {"g1": "n1", "g2": "n2"}),  # nobody reports: the usual placement
    ({"n1": G1, "n2": NONE}, {"g1": "n1"}, ("n1", "n2"), {"g1": "n2", "g2": "n2"}),  # holder lost carrier
    ({"n1": G1}, {"g1": "n1"}, ("n1", "n2"), {"g1": "n1", "g2": "n2"}),  # peer does not report: stays
    ({"n1": G1, "n2": G1}, {"g1": "n1"}, ("n1", "n2"), {"g1": "n1", "g2": "n2"}),  # no carrier anywhere
    ({"n1": G1, "n2": NONE}, {"g1": "n1"}, ("n1",), {"g1": "n1", "g2": "n1"}),  # peer dead: nowhere better
    ({"n1": G1, "n2": NONE}, {}, ("n1", "n2"), {"g1": "n2", "g2": "n2"}),  # free group: not to n1
    ({"n1": G1, "n2": NONE}, {"g1": "n2"}, ("n1", "n2"), {"g1": "n2", "g2": "n2"}),  # no failback to n1
    ({"n1": NONE, "n2": G1}, {"g1": "n2"}, ("n1", "n2"), {"g1": "n1", "g2": "n2"}),  # off n2's dead link
])
def test_placement(down: dict[str, frozenset[str]], held: dict[str, str], alive: tuple[str, ...],
                   expected: dict[str, str | None]) -> None:
    assert holders(down, held, alive) == expected


def test_without_auto_failback_the_group_still_leaves_a_dead_link() -> None:
    assert holders({"n1": G1, "n2": NONE}, {"g1": "n1"}, auto_failback=False)["g1"] == "n2"
    assert holders({"n1": NONE, "n2": NONE}, {"g1": "n2"}, auto_failback=False)["g1"] == "n2"


def test_carrier_lost_counts_at_once_carrier_back_after_the_hold() -> None:
    state = lr.LinkState(hold_ms=600)
    assert state.down_by_node("n1", "n2") == {}  # no report yet: not part of the rule
    assert not state.observe(0, lr.VipCarrier(NONE)) and state.known
    assert state.observe(100, lr.VipCarrier(G1, ("eth0",)))
    assert state.effective == G1 and state.due() is None
    assert not state.observe(200, lr.VipCarrier(NONE))  # back, but not held yet
    assert state.effective == G1 and state.due() == 800
    assert not state.settle(799) and state.effective == G1
    assert state.settle(800) and state.effective == NONE and state.due() is None
    assert state.down_by_node("n1", "n2") == {"n1": NONE}


def test_a_flapping_carrier_never_counts_as_up() -> None:
    state = lr.LinkState(hold_ms=600)
    state.observe(0, lr.VipCarrier(G1))
    for t in range(100, 3000, 200):  # up for 100 ms, down again for 100 ms
        state.observe(t, lr.VipCarrier(NONE))
        assert not state.settle(t + 99)
        state.observe(t + 100, lr.VipCarrier(G1))
        assert state.effective == G1


def test_the_peer_report_and_the_wire_field() -> None:
    state = lr.LinkState(hold_ms=600)
    assert state.observe_peer(G1) and not state.observe_peer(G1)
    assert state.down_by_node("n1", "n2") == {"n2": G1}
    state.forget_peer()
    assert state.down_by_node("n1", "n2") == {}
    assert lr.encode(frozenset({"g2", "g1"}), TOPOLOGY) == "g1 g2"
    assert lr.decode({"t": "resource", lr.LINK_FIELD: "g1 unknown"}, TOPOLOGY) == G1
    assert lr.decode({"t": "starting", lr.LINK_FIELD: ""}, TOPOLOGY) == NONE
    assert lr.decode({"t": "resource"}, TOPOLOGY) is None  # a peer that does not report
    assert lr.decode({"t": "ask_resources", lr.LINK_FIELD: "g1"}, TOPOLOGY) is None
    assert lr.with_field({"t": "resource"}, state, TOPOLOGY) == {"t": "resource"}  # not reporting
    state.observe(0, lr.VipCarrier(G1))
    assert lr.with_field({"t": "starting"}, state, TOPOLOGY) == {"t": "starting", lr.LINK_FIELD: "g1"}
    assert lr.with_field({"t": "ask_resources"}, state, TOPOLOGY) == {"t": "ask_resources"}


def test_each_decision_is_said_once() -> None:
    state = lr.LinkState(hold_ms=600)
    state.observe(0, lr.VipCarrier(G1, ("eth0",)))
    assert state.news(G1, "n2", True) == ["link: group g1: no carrier on its VIP interface here (eth0): n2 does "
                                          "not report its links: keeping it"]
    assert state.news(G1, "n2", True) == []
    state.observe_peer(NONE)
    assert state.news(G1, "n2", True) == ["link: group g1: no carrier on its VIP interface here (eth0): handing "
                                          "it to n2, which has carrier there"]
    assert state.news(NONE, "n2", True) == [] and state.said == {}  # handed over: forgotten
    assert state.news(G1, "n2", False)[0].endswith("no live peer: keeping it")
