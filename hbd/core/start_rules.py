"""Which groups this node may start, and which it should start now (pure functions of the core's state).

The safety rule everything else rests on (checked by Ownership._may_start just before each start): a group is started only
- when the peer is alive: after the peer's latest report says it does not hold the group; or
- when the peer is dead: after it gave its groups up (`shutdone`), or was fenced, or no fencing is configured.
Which groups to start follows from the placement (placement.py) of the groups that nobody holds; a
group held elsewhere moves only by a handover (standby.py) or the holder's death.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from hbd.core.holdings import Topology
from hbd.core.ownership_types import Cause, GroupState, Phase, Policy
from hbd.core.peer_view import PeerView
from hbd.core.placement import Desired, NodeState, Placement, Situation


@dataclass(frozen=True)
class Facts:
    """What the start rules read of the core, at one step (read only)."""

    me: str
    peer: str
    topology: Topology
    policy: Policy
    phase: Phase
    state: Mapping[str, GroupState]
    held: frozenset[str]
    peer_view: PeerView
    start_failed: Mapping[str, int]  # group -> when its start failed here
    start_deadline: int | None  # RQSTDELAY with a Heartbeat peer
    may_take_from_dead: bool  # the peer gave up, or was fenced, or no fencing is configured


def may_take_from_dead(pv: PeerView, policy: Policy) -> bool:
    return pv.gave_up or pv.fenced or not policy.fencing


def desired(f: Facts, placement: Placement, peer_alive: bool) -> Mapping[str, Desired]:
    """The placement of every group, given who holds what now."""
    holders: dict[str, frozenset[str]] = {}
    peer_hold = f.peer_view.hold or frozenset()
    for key in f.topology.keys:
        holders[key] = frozenset(n for n, holds in ((f.me, key in f.held), (f.peer, key in peer_hold)) if holds)
    nodes = (NodeState(f.me, True), NodeState(f.peer, peer_alive))
    return placement.place(Situation(nodes, f.topology.groups, holders))


def wanted(f: Facts, placement: Placement, now: int) -> list[str]:
    """Groups this node should start now, by the situation alone (a partly running group: the rest)."""
    pv = f.peer_view
    retry = f.policy.failed_retry_ms
    keys = [k for k in f.topology.keys if k not in pv.disputed]
    partial = [k for k in keys if f.state[k] is GroupState.PARTIAL]
    free = [k for k in keys if f.state[k] is GroupState.STOPPED
            and now - f.start_failed.get(k, now - retry) >= retry]
    if not pv.active:
        if not f.may_take_from_dead:
            return []
        place = desired(f, placement, peer_alive=False)
        return partial + [k for k in free if place[k].holder == f.me]
    if pv.hold is None:
        return []
    partial = [k for k in partial if k not in pv.hold]  # held by both: double ownership decides first
    if not pv.stable and not pv.hbd and f.start_deadline is not None and now < f.start_deadline:
        return []  # both starting with a Heartbeat peer: wait RQSTDELAY as Heartbeat does
    free = [k for k in free if k not in pv.hold]
    place = desired(f, placement, peer_alive=True)
    chosen = [k for k in free if place[k].holder == f.me]
    if not pv.hbd and pv.stable:
        # A Heartbeat peer reads our holdings as a word ("all", "foreign"), so it will not start a group
        # that word names: holding part of a word-set, we take the rest rather than leave it unheld.
        claimed = f.topology.resolve(f.topology.describe(f.held, f.me), f.me)
        chosen += [k for k in free if k in claimed and k not in chosen]
    return partial + chosen


def why(f: Facts, key: str) -> tuple[Cause, str]:
    """The cause of starting `key` now, and its text for the log."""
    pv = f.peer_view
    if f.state[key] is GroupState.PARTIAL:
        return Cause.COMPLETION, "found partly running here: starting the rest"
    if pv.gave_up:
        return Cause.PEER_GAVE_UP, f"{f.peer} gave up its resources"
    if not pv.alive:
        return Cause.PEER_DEAD, f"{f.peer} is dead"
    if f.topology.preferred(key) != f.me:
        return Cause.CLAIMED, f"held by nobody, and {f.peer} counts it as ours"
    return Cause.PREFERRED, "preferred node, held by nobody"


def to_give_back(f: Facts, placement: Placement) -> frozenset[str]:
    """Groups held here that the placement puts on the (active) peer: auto_failback hands them over."""
    place = desired(f, placement, peer_alive=True)
    return frozenset(k for k in f.held if place[k].holder == f.peer)
