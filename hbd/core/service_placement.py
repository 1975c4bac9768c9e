"""Where a service should run on N nodes: rgmanager's failover domains as a pure, deterministic rule.

This is the second placement policy beside Heartbeat's preferred node (placement.py): the coordinator
(service_coordinator.py) asks it for every service, in configuration order, and announces the answer.

The rule, for one service, given the quorate members:
- candidates: the members, or only the domain's members when the domain is restricted; a member that the
  service's recovery relocated it away from is left out while another candidate exists;
- exclusive: an exclusive service only on a candidate where no other service is placed; no service on a
  node where an exclusive one is placed;
- a service placed on a candidate stays there (no needless move), except that with an ordered (or any)
  domain and failback, a member that just joined and ranks better takes it back;
- otherwise the best candidate by (domain rank, services already placed there, nodeid). Domain rank:
  ordered domains by priority (1 first, unprioritised members after), unordered domains rank every member
  alike, non-members after members. So an unordered domain spreads services over its members, the least
  loaded first, ties to the lowest nodeid (rgmanager shuffles ties at random; a deterministic rule lets
  every node compute and check the same answer).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from hbd.core.service_model import Catalog, ServiceSpec


@dataclass(frozen=True)
class Loads:
    """What is placed where so far in this pass (configuration order)."""

    count: Mapping[str, int]  # node -> services placed on it
    exclusive: frozenset[str]  # nodes where an exclusive service is placed


def eligible(spec: ServiceSpec, members: frozenset[str]) -> frozenset[str]:
    """The members that may run the service at all (a restricted domain excludes every other node)."""
    if spec.domain is not None and spec.domain.restricted:
        return frozenset(m for m in members if spec.domain.has(m))
    return members


def _fits(spec: ServiceSpec, node: str, loads: Loads) -> bool:
    if spec.exclusive:
        return loads.count.get(node, 0) == 0
    return node not in loads.exclusive


def rank(spec: ServiceSpec, node: str) -> int:
    return spec.domain.rank(node) if spec.domain is not None else 0


def choose(spec: ServiceSpec, catalog: Catalog, members: frozenset[str], current: str | None,
           joined: frozenset[str], avoid: frozenset[str], loads: Loads) -> str | None:
    """The node the service belongs on, or None when no candidate may run it."""
    allowed = eligible(spec, members)
    fitting = [n for n in allowed if _fits(spec, n, loads)]
    preferred = [n for n in fitting if n not in avoid] or fitting

    def key(node: str) -> tuple[int, int, int]:
        return rank(spec, node), loads.count.get(node, 0), catalog.nodeid(node)

    if not preferred:
        return None
    if current in preferred:
        failback = spec.domain is not None and not spec.domain.nofailback
        better = [n for n in preferred if n in joined and rank(spec, n) < rank(spec, current)]
        return min(better, key=key) if failback and better else current
    return min(preferred, key=key)


def add(loads: Loads, spec: ServiceSpec, node: str | None) -> Loads:
    if node is None:
        return loads
    count = dict(loads.count)
    count[node] = count.get(node, 0) + 1
    return Loads(count, loads.exclusive | {node} if spec.exclusive else loads.exclusive)
