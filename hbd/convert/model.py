"""The Pacemaker configuration hbd converts to: primitives, groups, a promotable DRBD clone, constraints.

Plain frozen data; ids are already valid XML ids (see ids.py) and unique within one Cluster.
"""
from __future__ import annotations

from dataclasses import dataclass, field

Pairs = tuple[tuple[str, str], ...]
INFINITY = "INFINITY"


@dataclass(frozen=True)
class Op:
    name: str  # monitor, start, stop, promote, ...
    interval_s: int
    timeout_s: int
    role: str | None = None  # Promoted / Unpromoted for a promotable clone's monitors


@dataclass(frozen=True)
class Primitive:
    id: str
    cls: str  # ocf, lsb, heartbeat, stonith
    type: str
    provider: str | None = None
    params: Pairs = ()
    ops: tuple[Op, ...] = ()
    meta: Pairs = ()
    source: str = ""  # the configuration text it came from, for comments

    @property
    def agent(self) -> str:
        return ":".join(p for p in (self.cls, self.provider, self.type) if p)


@dataclass(frozen=True)
class Group:
    id: str
    members: tuple[Primitive, ...]
    meta: Pairs = ()


@dataclass(frozen=True)
class Promotable:
    """A promotable clone of one primitive (DRBD): promoted on one node, unpromoted on the other."""

    id: str
    primitive: Primitive
    meta: Pairs = (("promotable", "true"), ("promoted-max", "1"), ("promoted-node-max", "1"),
                   ("clone-max", "2"), ("clone-node-max", "1"), ("notify", "true"))


@dataclass(frozen=True)
class Location:
    id: str
    rsc: str
    node: str
    score: str


@dataclass(frozen=True)
class Colocation:
    id: str
    rsc: str
    with_rsc: str
    score: str = INFINITY
    with_role: str | None = None  # Promoted: run where the clone is promoted


@dataclass(frozen=True)
class Order:
    id: str
    first: str
    then: str
    first_action: str = "start"
    then_action: str = "start"


@dataclass(frozen=True)
class FencingLevel:
    id: str
    target: str
    index: int
    devices: tuple[str, ...]


@dataclass(frozen=True)
class Cluster:
    name: str
    nodes: tuple[str, ...]
    groups: tuple[Group, ...] = ()
    clones: tuple[Promotable, ...] = ()
    stonith: tuple[Primitive, ...] = ()
    locations: tuple[Location, ...] = ()
    colocations: tuple[Colocation, ...] = ()
    orders: tuple[Order, ...] = ()
    levels: tuple[FencingLevel, ...] = ()
    properties: Pairs = ()
    rsc_defaults: Pairs = ()
    notes: tuple[str, ...] = field(default=())  # what the admin must know (printed as comments)
