"""Quorum as cman computes it, from the membership layer's verdicts: a pure state machine, no I/O, no clock.

cman (cman/daemon/commands.c, calculate_quorum; the algorithm of the OpenVMS cluster manual):

    total    = sum of the votes of the nodes that are members now
    expected = max(expected_votes as configured (default: the sum of every <clusternode>'s votes),
                   the highest total seen since start)        # cman raises expected_votes as votes join
    quorum   = max((expected + 2) // 2, (total + 2) // 2)   # never decreases: expected only rises
    two_node and at most 2 members present: quorum = 1
    quorate  = total >= quorum

So three one-vote nodes have quorum 2: {n2, n3} is quorate, {n1} alone is not. expected_votes larger than
the sum of the votes raises the quorum; from twice the sum on it cannot be reached: never quorate (config
check warns). With two_node="1" either node alone is quorate, and only fencing keeps the two halves of a
split apart.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class QuorumConfig:
    votes: tuple[tuple[str, int], ...]  # (node, votes) of every <clusternode>, names lower case
    expected_votes: int  # as configured, or the sum of the votes
    two_node: bool = False

    @classmethod
    def of(cls, votes: Mapping[str, int], expected_votes: int | None = None,
           two_node: bool = False) -> "QuorumConfig":
        table = tuple(sorted((name.lower(), count) for name, count in votes.items()))
        total = sum(count for _, count in table)
        return cls(table, expected_votes if expected_votes is not None else total, two_node)

    @property
    def total_votes(self) -> int:
        """Every configured node's votes together: the most any membership can present."""
        return sum(count for _, count in self.votes)

    def votes_of(self, node: str) -> int:
        return dict(self.votes).get(node.lower(), 0)  # a name outside cluster.conf has no vote

    @property
    def reachable(self) -> bool:
        """False when even every node together is short of quorum (expected_votes above the sum)."""
        return quorum_for(self, self.total_votes, len(self.votes))[1] <= self.total_votes


@dataclass(frozen=True)
class QuorumState:
    quorate: bool
    members: frozenset[str]
    total_votes: int  # of the members
    expected_votes: int  # after cman's raise to the highest total seen
    quorum: int  # the votes needed


@dataclass(frozen=True)
class QuorumChanged:
    """This node's partition gained or lost quorum, or its member set changed."""

    quorate: bool
    members: frozenset[str]
    state: QuorumState


def quorum_for(config: QuorumConfig, total: int, present: int) -> tuple[int, int]:
    """(expected, quorum) for `total` votes of `present` configured nodes."""
    expected = max(config.expected_votes, total)
    quorum = max((expected + 2) // 2, (total + 2) // 2)
    if config.two_node and present <= 2:
        quorum = 1
    return expected, quorum


class Quorum:
    """Feed it every membership verdict (the set of nodes alive, this node included); it says quorate or not."""

    def __init__(self, config: QuorumConfig):
        self.config = config
        self._expected = config.expected_votes  # raised to the highest total seen (cman)
        self._configured = dict(config.votes)
        self.state = QuorumState(False, frozenset(), 0, config.expected_votes, quorum_for(config, 0, 0)[1])

    def update(self, members: frozenset[str]) -> QuorumChanged | None:
        members = frozenset(m.lower() for m in members)
        present = sum(1 for m in members if m in self._configured)
        total = sum(self._configured.get(m, 0) for m in members)
        # cman raises expected_votes to the votes present, so the quorum they imply never drops afterwards
        self._expected = max(self._expected, total)
        raised = QuorumConfig(self.config.votes, self._expected, self.config.two_node)
        expected, quorum = quorum_for(raised, total, present)
        state = QuorumState(total >= quorum, members, total, expected, quorum)
        old, self.state = self.state, state
        if old.quorate == state.quorate and old.members == state.members:
            return None
        return QuorumChanged(state.quorate, members, state)


__all__ = ["Quorum", "QuorumChanged", "QuorumConfig", "QuorumState", "quorum_for"]
