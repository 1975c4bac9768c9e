"""Heartbeat's ipfail rule inside the daemon: the node that reaches more ping nodes holds the groups (pure).

Each node counts the ping nodes it reaches (a `ping` address or a `ping_group` counts once: the ping
monitor's verdicts) and carries that count in the resource messages it sends (`hbd_ping`,
resource_messages.py; Heartbeat ignores the field). `Connectivity` compares this node's count with the
peer's last reported one, with hysteresis: the comparison the placement acts on changes only after the raw
comparison (fewer / equal / more) stayed the same for `hold_ms` (IPFAIL_ROUNDS keepalives), so a ping node
that answers every other round moves nothing. `BetterConnected` wraps the placement: while the counts
(after hysteresis) differ, every group belongs on the better-connected live node; with equal counts, or a
peer that sends no count (Heartbeat 3.0.6), the wrapped placement decides alone. The worse-connected holder
hands its groups over by the standby exchange (the auto_failback path of ownership.py), so nothing starts
before the holder stopped it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Mapping

from hbd.core.placement import Desired, Placement, Situation

IPFAIL_ROUNDS = 3  # consecutive keepalives the ping counts must compare the same before the placement acts


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


@dataclass
class Connectivity:
    """This node's and the peer's ping counts, and the comparison after hysteresis."""

    hold_ms: int
    mine: int | None = None  # None: no verdict yet (or no ping nodes configured)
    peer: int | None = None  # None: the peer never sent a count (a Heartbeat peer, or not yet)
    raw: int = 0  # sign(mine - peer) now: -1 this node reaches fewer, +1 more, 0 equal or unknown
    raw_since: int = 0
    effective: int = 0  # the comparison the placement acts on
    mine_since: int | None = None  # when `mine` last changed (status)
    peer_since: int | None = None

    def observe(self, now: int, *, mine: int | None = None, peer: int | None = None) -> None:
        if mine is not None and mine != self.mine:
            self.mine, self.mine_since = mine, now
        if peer is not None and peer != self.peer:
            self.peer, self.peer_since = peer, now
        raw = 0 if self.mine is None or self.peer is None else _sign(self.mine - self.peer)
        if raw != self.raw:
            self.raw, self.raw_since = raw, now

    def forget_peer(self, now: int) -> None:
        """The peer died or restarted: its old count says nothing any more."""
        self.peer = self.peer_since = None
        self.observe(now)

    def due(self) -> int | None:
        """When the effective comparison may change (None: it agrees with the raw one)."""
        return None if self.raw == self.effective else self.raw_since + self.hold_ms

    def settle(self, now: int) -> bool:
        """Adopt the raw comparison once it has held for `hold_ms`; True when the effective one changed."""
        due = self.due()
        if due is None or now < due:
            return False
        self.effective = self.raw
        return True

    def counts(self, me: str, peer: str) -> Mapping[str, int]:
        """The counts the placement reads: both, while the effective comparison says they differ."""
        if self.effective == 0 or self.mine is None or self.peer is None:
            return {}
        return {me: self.mine, peer: self.peer}


@dataclass
class BetterConnected:
    """A placement wrapper: ping counts (after hysteresis) into the situation; the better-connected live
    node holds every group while the counts differ; otherwise the wrapped placement decides."""

    inner: Placement
    ping: Mapping[str, int] = field(default_factory=dict)  # node -> count; empty: the rule is off now

    def place(self, situation: Situation) -> Mapping[str, Desired]:
        nodes = tuple(dataclasses.replace(n, ping=self.ping.get(n.name)) for n in situation.nodes)
        s = dataclasses.replace(situation, nodes=nodes)
        return prefer_connected(s, self.inner.place(s))


def prefer_connected(s: Situation, desired: Mapping[str, Desired]) -> Mapping[str, Desired]:
    """Move every group the placement puts on a worse-connected live node to the best-connected one(s)."""
    live = [n for n in s.nodes if n.alive and n.ping is not None]
    if len(live) < 2:
        return desired
    best = max(n.ping for n in live if n.ping is not None)
    top = [n.name for n in live if n.ping == best]
    if len(top) == len(live):
        return desired
    out: dict[str, Desired] = {}
    for key, d in desired.items():
        if d.holder is None or d.holder in top or not s.alive(d.holder):
            out[key] = d
            continue
        holding = [name for name in top if name in s.holding(key)]
        out[key] = Desired(key, holding[0] if holding else top[0])
    return out
