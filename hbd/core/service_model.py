"""rgmanager services as typed values: what a `<service>` and a `<failoverdomain>` of cluster.conf mean.

Built from a loaded cluster.conf by hbd/config/services.py (which reports bad values with file and line);
the service cores (service_node.py, service_coordinator.py) read only these values, never XML.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cached_property

from hbd.core.recovery import Recovery as Recovery  # re-exported; `recovery=`: restart, relocate, disable, restart-disable


class DependMode(enum.Enum):
    HARD = "hard"  # the service stops when the service it depends on stops
    SOFT = "soft"  # the dependency matters only when the service starts


@dataclass(frozen=True)
class DomainMember:
    node: str
    priority: int  # 1 is preferred over 2; 0 = unprioritised (after every prioritised member)


@dataclass(frozen=True)
class Domain:
    name: str
    ordered: bool
    restricted: bool  # never on a node outside the domain
    nofailback: bool  # ordered: stay where it runs when a better member rejoins
    members: tuple[DomainMember, ...]

    def has(self, node: str) -> bool:
        return any(m.node == node for m in self.members)

    def rank(self, node: str) -> int:
        """Smaller is better: a member's priority (unprioritised members after prioritised ones), non-members last.
        An unordered domain ranks every member alike."""
        member = next((m for m in self.members if m.node == node), None)
        if member is None:
            return 1 << 30
        if not self.ordered:
            return 0
        return member.priority if 1 <= member.priority <= 100 else 101


@dataclass(frozen=True)
class Subtree:
    """An `__independent_subtree` node of a service: restarted alone, up to its own restart budget."""

    ident: str  # `type:primary`, as rg_test prints it
    max_restarts: int  # __max_restarts (0: the first failure recovers the whole service)
    restart_expire_ms: int  # __restart_expire_time (0: never forgotten)
    non_critical: bool  # `2` / non-critical: stopped and left stopped; the service keeps running


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    autostart: bool = True
    domain: Domain | None = None
    recovery: Recovery = Recovery.RESTART
    max_restarts: int = 0  # 0 = unlimited restarts in place
    restart_expire_ms: int = 0  # 0 = a restart is never forgotten
    exclusive: bool = False
    depend: str | None = None  # name of the service this one needs started (`service:NAME` without the prefix)
    depend_mode: DependMode = DependMode.HARD
    enforce_timeouts: bool = False
    independent: tuple[Subtree, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class NodeSpec:
    name: str
    nodeid: int
    votes: int = 1


@dataclass(frozen=True)
class Catalog:
    """The cluster's nodes and services, as every node has them (cluster.conf is identical everywhere)."""

    nodes: tuple[NodeSpec, ...]
    services: tuple[ServiceSpec, ...]  # in configuration order

    @cached_property
    def _services(self) -> dict[str, ServiceSpec]:
        return {s.name: s for s in self.services}

    @cached_property
    def _nodes(self) -> dict[str, NodeSpec]:
        return {n.name: n for n in self.nodes}

    def service(self, name: str) -> ServiceSpec | None:
        return self._services.get(name)

    def node(self, name: str) -> NodeSpec | None:
        return self._nodes.get(name)

    def nodeid(self, name: str) -> int:
        node = self._nodes.get(name)
        return node.nodeid if node is not None else 1 << 30

    def coordinator(self, members: frozenset[str]) -> str | None:
        """The members' coordinator: the member with the lowest nodeid (every member computes the same)."""
        known = [n for n in members if n in self._nodes]
        return min(known, key=self.nodeid) if known else None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.services)
