"""Whether both nodes define the resource groups alike: a digest of each group in every holdings report.

Two nodes with different haresources (a group preferred by a different node, a resource added on one
side only) would each act on their own reading and could both start a group. So every hbd report carries
`hbd_rsc`: for each group, a short hash of its key and a short hash of its definition (preferred node and
resources, as written). A node never starts, takes over or hands over a group the two nodes define
differently, or that only one of them defines; groups already running stay where they run. Heartbeat
ignores the field, and a Heartbeat peer (no field) is not compared.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from hbd.core.holdings import Topology

FIELD = "hbd_rsc"
HASH_CHARS = 12


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_CHARS]


def encode(topology: Topology) -> str | None:
    """The `hbd_rsc` field, or None when the groups carry no definitions to compare."""
    if not any(g.definition for g in topology.groups):
        return None
    return " ".join(f"{_hash(g.key)}:{_hash(g.definition)}" for g in topology.groups)


@dataclass(frozen=True)
class Disagreement:
    differ: frozenset[str] = frozenset()  # defined on both nodes, differently
    only_here: frozenset[str] = frozenset()  # not defined on the peer
    only_there: int = 0  # groups the peer defines and this node does not

    @property
    def keys(self) -> frozenset[str]:
        return self.differ | self.only_here

    def __bool__(self) -> bool:
        return bool(self.keys) or self.only_there > 0

    def describe(self, topology: Topology, peer: str) -> str:
        parts = []
        if self.differ:
            parts.append(f"defined differently on {peer}: {' '.join(topology.ordered(self.differ))}")
        if self.only_here:
            parts.append(f"not defined on {peer}: {' '.join(topology.ordered(self.only_here))}")
        if self.only_there:
            parts.append(f"{self.only_there} group(s) defined only on {peer}")
        return "; ".join(parts)


def compare(topology: Topology, value: str | None) -> Disagreement | None:
    """The peer's `hbd_rsc` against ours; None when there is nothing to compare (no field on either side)."""
    if value is None or encode(topology) is None:
        return None
    theirs: dict[str, str] = {}
    for item in value.split():
        key_hash, _, definition = item.partition(":")
        theirs[key_hash] = definition
    ours = {_hash(g.key): g for g in topology.groups}
    differ = frozenset(g.key for h, g in ours.items() if h in theirs and theirs[h] != _hash(g.definition))
    only_here = frozenset(g.key for h, g in ours.items() if h not in theirs)
    return Disagreement(differ, only_here, sum(1 for h in theirs if h not in ours))
