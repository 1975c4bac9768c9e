"""The quorum core against cman's arithmetic (hbd/core/quorum.py): votes, expected_votes, two_node."""
from __future__ import annotations

import pytest

from hbd.core.quorum import Quorum, QuorumConfig


def three(votes: tuple[int, int, int] = (1, 1, 1), expected: int | None = None) -> Quorum:
    return Quorum(QuorumConfig.of(dict(zip(("n1", "n2", "n3"), votes)), expected))


def members(*names: str) -> frozenset[str]:
    return frozenset(names)


def test_three_nodes_need_two_votes_so_the_pair_is_quorate_and_the_single_node_is_not() -> None:
    alone, pair = three(), three()
    change = alone.update(members("n1"))
    assert change is not None and not change.quorate  # the member set changed, quorum did not come
    assert not alone.state.quorate and alone.state.quorum == 2 and alone.state.total_votes == 1
    change = pair.update(members("n2", "n3"))
    assert change is not None and change.quorate and change.members == members("n2", "n3")
    assert (pair.state.total_votes, pair.state.expected_votes, pair.state.quorum) == (2, 3, 2)


def test_losing_the_majority_emits_quorum_lost_with_the_remaining_members() -> None:
    q = three()
    assert q.update(members("n1", "n2", "n3")) is not None
    change = q.update(members("n1"))
    assert change is not None and not change.quorate and change.members == members("n1")
    assert q.update(members("n1")) is None  # the same verdict again: nothing to tell


def test_a_member_change_without_a_quorum_change_is_still_reported() -> None:
    q = three()
    q.update(members("n1", "n2", "n3"))
    change = q.update(members("n1", "n2"))
    assert change is not None and change.quorate and change.members == members("n1", "n2")


@pytest.mark.parametrize("nodes, alive, quorate", [
    (2, 1, False), (2, 2, True),
    (3, 1, False), (3, 2, True),
    (4, 2, False), (4, 3, True),  # an even split is no majority
    (5, 2, False), (5, 3, True),
])
def test_one_vote_each_majority_rule(nodes: int, alive: int, quorate: bool) -> None:
    names = [f"n{i}" for i in range(1, nodes + 1)]
    q = Quorum(QuorumConfig.of({n: 1 for n in names}))
    q.update(frozenset(names[:alive]))
    assert q.state.quorate is quorate
    assert q.state.quorum == nodes // 2 + 1


def test_votes_weigh_nodes() -> None:
    q = three(votes=(3, 1, 1))  # sum 5, quorum 3: n1 alone holds it
    q.update(members("n1"))
    assert q.state.quorate and q.state.quorum == 3
    other = three(votes=(3, 1, 1))
    other.update(members("n2", "n3"))
    assert not other.state.quorate


def test_expected_votes_larger_than_the_sum_is_never_quorate() -> None:
    config = QuorumConfig.of({"n1": 1, "n2": 1, "n3": 1}, expected_votes=7)  # quorum 4 > 3 votes
    assert not config.reachable
    q = Quorum(config)
    q.update(members("n1", "n2", "n3"))
    assert not q.state.quorate and q.state.quorum == 4


def test_expected_votes_at_the_sum_is_reachable() -> None:
    assert QuorumConfig.of({"n1": 1, "n2": 1, "n3": 1}, expected_votes=3).reachable


def test_two_node_either_node_alone_is_quorate() -> None:
    config = QuorumConfig.of({"node0": 1, "node1": 1}, expected_votes=1, two_node=True)
    for alone in ("node0", "node1"):
        q = Quorum(config)
        q.update(members("node0", "node1"))
        assert q.state.quorate
        change = q.update(members(alone))
        assert change is not None and change.quorate and q.state.quorum == 1


def test_two_nodes_without_two_node_lose_quorum_when_one_is_gone() -> None:
    q = Quorum(QuorumConfig.of({"node0": 1, "node1": 1}))
    q.update(members("node0", "node1"))
    assert q.state.quorate
    q.update(members("node0"))
    assert not q.state.quorate and q.state.quorum == 2


def test_expected_votes_below_the_sum_is_raised_by_the_votes_that_joined() -> None:
    """cman raises expected_votes to the votes present and never lowers it again."""
    q = Quorum(QuorumConfig.of({"n1": 1, "n2": 1, "n3": 1}, expected_votes=1))
    q.update(members("n1"))
    assert q.state.quorate and q.state.quorum == 1  # what cman does too: hence config check's warning
    q.update(members("n1", "n2", "n3"))
    assert q.state.expected_votes == 3 and q.state.quorum == 2
    q.update(members("n1"))
    assert not q.state.quorate and q.state.quorum == 2


def test_a_name_outside_cluster_conf_brings_no_vote() -> None:
    q = three()
    q.update(members("n1", "intruder"))
    assert not q.state.quorate and q.state.total_votes == 1


def test_names_are_case_insensitive() -> None:
    q = Quorum(QuorumConfig.of({"N1": 1, "n2": 1, "n3": 1}))
    q.update(members("n1", "N2"))
    assert q.state.quorate and q.state.members == members("n1", "n2")
