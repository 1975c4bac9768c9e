"""Which groups a node holds, in Heartbeat's relative words (none / local / foreign / all) and exactly.

Heartbeat's `rsc_hold` is relative to the sender: "local" means the groups whose haresources line names the
sender. hbd peers also send the exact list of group keys (field `hbd_groups`), because the four words
cannot say "one of my two groups". Heartbeat peers ignore that field.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal

Hold = Literal["none", "local", "foreign", "all"]
HOLDS: tuple[Hold, ...] = ("none", "local", "foreign", "all")
# Words an admin may give to hbd-standby / hbd-takeover; `failback` is Heartbeat's synonym for foreign.
REQUEST_WORDS = ("all", "local", "foreign", "failback")


@dataclass(frozen=True)
class GroupInfo:
    key: str
    preferred: str  # the node named on the group's haresources line
    definition: str = ""  # the group as configured (node and resources), compared with the peer's


@dataclass(frozen=True)
class Topology:
    """The groups of the cluster in file order, and which node each prefers."""

    groups: tuple[GroupInfo, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(g.key for g in self.groups)

    def preferred(self, key: str) -> str:
        return next(g.preferred for g in self.groups if g.key == key)

    def resolve(self, word: str, relative_to: str) -> frozenset[str]:
        """The concrete group keys a relative word names, as seen by node `relative_to`."""
        if word == "failback":
            word = "foreign"
        if word == "all":
            return frozenset(self.keys)
        if word == "local":
            return frozenset(g.key for g in self.groups if g.preferred == relative_to)
        if word == "foreign":
            return frozenset(g.key for g in self.groups if g.preferred != relative_to)
        return frozenset()

    def describe(self, held: Iterable[str], node: str) -> Hold:
        """Heartbeat's word for a set of held groups, from `node`'s point of view."""
        held = set(held)
        local = any(self.preferred(k) == node for k in held)
        foreign = any(self.preferred(k) != node for k in held)
        if local and foreign:
            return "all"
        if local:
            return "local"
        if foreign:
            return "foreign"
        return "none"

    def ordered(self, keys: Iterable[str]) -> list[str]:
        """Keys in haresources file order (groups are started in this order and stopped in reverse)."""
        wanted = set(keys)
        return [k for k in self.keys if k in wanted]


def encode_groups(keys: Iterable[str], topology: Topology) -> str:
    """The `hbd_groups` field: keys in file order, space separated (keys never contain white space)."""
    return " ".join(topology.ordered(keys))


def decode_groups(value: str | None, topology: Topology) -> frozenset[str] | None:
    """Parse `hbd_groups`; unknown keys are ignored (a mismatched haresources is reported elsewhere)."""
    if value is None:
        return None
    known = set(topology.keys)
    return frozenset(k for k in value.split() if k in known)
