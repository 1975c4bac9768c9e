"""Heartbeat's placement (preferred node, auto_failback) over the Situation a second policy would read too."""
from __future__ import annotations

from hbd.core.holdings import GroupInfo
from hbd.core.placement import NodeState, PreferredNode, Situation

GROUPS = (GroupInfo("g1", "n1"), GroupInfo("g2", "n2"))


def place(alive: dict[str, bool], holders: dict[str, set[str]], auto_failback: bool = True) -> dict[str, str | None]:
    s = Situation(tuple(NodeState(n, a) for n, a in alive.items()), GROUPS,
                  {k: frozenset(v) for k, v in holders.items()})
    return {k: d.holder for k, d in PreferredNode(auto_failback).place(s).items()}


def test_a_group_held_by_nobody_belongs_on_its_live_preferred_node() -> None:
    assert place({"n1": True, "n2": True}, {}) == {"g1": "n1", "g2": "n2"}


def test_a_dead_preferred_node_s_group_belongs_on_the_survivor() -> None:
    assert place({"n1": True, "n2": False}, {}) == {"g1": "n1", "g2": "n1"}


def test_a_dead_node_s_holdings_do_not_count() -> None:
    assert place({"n1": True, "n2": False}, {"g2": {"n2"}}, auto_failback=False)["g2"] == "n1"


def test_with_auto_failback_a_group_goes_back_to_its_returned_preferred_node() -> None:
    assert place({"n1": True, "n2": True}, {"g2": {"n1"}})["g2"] == "n2"


def test_without_auto_failback_a_group_stays_where_it_runs() -> None:
    assert place({"n1": True, "n2": True}, {"g2": {"n1"}}, auto_failback=False)["g2"] == "n1"


def test_a_group_held_by_both_stays_on_its_preferred_node_either_way() -> None:
    for fb in (True, False):
        assert place({"n1": True, "n2": True}, {"g1": {"n1", "n2"}, "g2": {"n1", "n2"}}, fb) == \
            {"g1": "n1", "g2": "n2"}


def test_no_live_node_no_holder() -> None:
    assert place({"n1": False, "n2": False}, {}) == {"g1": None, "g2": None}


def test_the_situation_is_not_two_node_shaped() -> None:
    """Three nodes: the preferred node dead, the first live node in the cluster's order takes the group."""
    s = Situation((NodeState("n1", False), NodeState("n2", True), NodeState("n3", True)), GROUPS, {})
    assert PreferredNode().place(s)["g1"].holder == "n2"
