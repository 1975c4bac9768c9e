"""Who should hold which group: the placement policy, pure, apart from how groups move.

A Placement reads a frozen Situation (the nodes, alive or not; the groups with their preferred node; who
holds each now) and names the desired holder of every group. It decides nothing about safety: the
ownership core still starts a group only when its rules allow (ownership.py `_may_start`), and moves a
group held elsewhere only through a handover. `PreferredNode` is Heartbeat's policy (one preferred node
per group, auto_failback); a second policy (rgmanager's ordered failover domains on N nodes) fits the same
Situation: it would read an ordered list of nodes per group instead of one preferred node. Connectivity
(Heartbeat's ipfail rule, ipfail.py) wraps a placement: it fills in each node's ping count.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol

from hbd.core.holdings import GroupInfo


@dataclass(frozen=True)
class NodeState:
    name: str
    alive: bool  # heard from and not leaving (a node that announced `shutdone` is not alive here)
    ping: int | None = None  # ping nodes it reaches (ipfail.py); None: unknown, or the counts do not differ


@dataclass(frozen=True)
class Situation:
    nodes: tuple[NodeState, ...]  # every node of the cluster, this one included
    groups: tuple[GroupInfo, ...]  # in configuration order
    holders: Mapping[str, frozenset[str]]  # group key -> the nodes holding it now (absent: nobody)

    def alive(self, node: str) -> bool:
        return any(n.name == node and n.alive for n in self.nodes)

    def holding(self, key: str) -> frozenset[str]:
        return self.holders.get(key, frozenset())


@dataclass(frozen=True)
class Desired:
    key: str
    holder: str | None  # None: nowhere (no node alive may hold it)


class Placement(Protocol):
    def place(self, situation: Situation) -> Mapping[str, Desired]:
        """The desired holder of every group of the situation, by key."""
        ...


@dataclass(frozen=True)
class PreferredNode:
    """Heartbeat's placement. A group held by nobody belongs on its preferred node when that node is
    alive, else on the first live node. A group held by several nodes (a healed partition) stays on the
    preferred node if that is among them. A group held by one node: with auto_failback it belongs back on
    its preferred node once that is alive; without, it stays where it runs."""

    auto_failback: bool = True

    def place(self, situation: Situation) -> Mapping[str, Desired]:
        return {g.key: Desired(g.key, self._holder(g, situation)) for g in situation.groups}

    def _holder(self, group: GroupInfo, s: Situation) -> str | None:
        live = [n.name for n in s.nodes if n.alive]
        holding = [n for n in live if n in s.holding(group.key)]  # a dead node's holdings do not count
        if len(holding) > 1:
            return group.preferred if group.preferred in holding else holding[0]
        if holding and (not self.auto_failback or not s.alive(group.preferred)):
            return holding[0]
        if s.alive(group.preferred):
            return group.preferred
        return live[0] if live else None
