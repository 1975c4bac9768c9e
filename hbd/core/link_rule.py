"""Carrier of the VIP interfaces: a group belongs where its addresses' interfaces have carrier (pure).

The link monitor (hbd/runtime/link_monitor.py) reports, on every change, which groups have an IPaddr2
address whose interface (as the agent resolves it on this node: given, or found from the connected route)
has no carrier (`VipCarrier`). Each node carries its set in the resource messages it sends (`hbd_link`,
space-separated group keys, on `starting` and `resource`; Heartbeat ignores the field), as it carries its
ping count (ipfail.py).

The rule (`AvoidDeadLinks`, a placement wrapper): a group the wrapped placement puts on a node without
carrier on that group's VIP interface goes to a live node that reported carrier on it, if there is one;
otherwise the wrapped placement decides alone (a peer that does not report, a Heartbeat 3.0.6 peer or one
without link monitoring, is never chosen: its link is unknown). So
- the holder that loses carrier hands the group over by the standby exchange (the auto_failback path of
  ownership.py, as ipfail does): nothing starts before the holder stopped it. Restarting in place, what a
  failed status check would do first, cannot help: the address would be back on the same dead link;
- a node whose own VIP interface has no carrier is never the placement's choice while the peer has
  carrier there: it is not handed the group, and does not take a free group it prefers;
- when neither node has carrier, or the peer is dead, the group stays where it is (or is taken over from
  the dead peer as usual): it cannot answer anywhere better.

Carrier lost counts at once (the address is unreachable now); carrier back counts only after it held for
`hold_ms` (LINK_UP_ROUNDS keepalives), so a flapping cable does not pull the group back and forth.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from hbd.core.holdings import Topology, decode_groups, encode_groups
from hbd.core.placement import Desired, Placement, Situation

LINK_FIELD = "hbd_link"
CARRIED_BY = ("starting", "resource")  # the messages that carry the field
LINK_UP_ROUNDS = 3  # keepalives the carrier must be back before this node counts the link as up again


@dataclass(frozen=True)
class VipCarrier:
    """The link monitor's report, sent when it changes: the groups whose VIP interfaces (those of their
    IPaddr2 resources, as resolved here) have no carrier now, and those interfaces (for the log)."""

    down: frozenset[str]
    interfaces: tuple[str, ...] = ()


@dataclass
class LinkState:
    """This node's groups without VIP carrier (raw, and after the hold for carrier back) and the peer's."""

    hold_ms: int
    raw: frozenset[str] | None = None  # None: the link monitor has not reported (or watches nothing)
    back_at: dict[str, int] = field(default_factory=dict)  # group -> when its carrier came back (held)
    effective: frozenset[str] = frozenset()  # what the placement and the peer are told
    interfaces: tuple[str, ...] = ()  # the interfaces without carrier, as last reported
    peer: frozenset[str] | None = None  # the peer's last report (None: it never sent one)
    said: dict[str, str] = field(default_factory=dict)  # group -> the decision last logged for it

    @property
    def known(self) -> bool:
        return self.raw is not None

    def observe(self, now: int, report: VipCarrier) -> bool:
        """A report of the link monitor; True when the effective set changed."""
        if self.raw is not None:
            for key in self.raw - report.down:
                self.back_at[key] = now
        for key in report.down:
            self.back_at.pop(key, None)
        self.raw, self.interfaces = report.down, report.interfaces
        return self._update(now)

    def observe_peer(self, down: frozenset[str]) -> bool:
        changed = down != self.peer
        self.peer = down
        return changed

    def forget_peer(self) -> None:
        """The peer died or restarted: its old report says nothing any more."""
        self.peer = None

    def due(self) -> int | None:
        """When a carrier that came back has held long enough to count (None: nothing pending)."""
        return min((t + self.hold_ms for t in self.back_at.values()), default=None)

    def settle(self, now: int) -> bool:
        """Count the carriers that held for `hold_ms`; True when the effective set changed."""
        due = self.due()
        return due is not None and now >= due and self._update(now)

    def _update(self, now: int) -> bool:
        self.back_at = {k: t for k, t in self.back_at.items() if now < t + self.hold_ms}
        effective = (self.raw or frozenset()) | frozenset(self.back_at)
        changed = effective != self.effective
        self.effective = effective
        return changed

    def news(self, held: frozenset[str], peer: str, peer_alive: bool) -> list[str]:
        """What the rule does for each held group without carrier here, said once per decision (log)."""
        out: list[str] = []
        down = held & self.effective
        for key in sorted(down):
            if not peer_alive:
                verdict = "no live peer: keeping it"
            elif self.peer is None:
                verdict = f"{peer} does not report its links: keeping it"
            elif key in self.peer:
                verdict = f"{peer} has no carrier there either: keeping it"
            else:
                verdict = f"handing it to {peer}, which has carrier there"
            where = ", ".join(self.interfaces) or "carrier back, not held long enough yet"
            text = f"link: group {key}: no carrier on its VIP interface here ({where}): {verdict}"
            if self.said.get(key) != verdict:
                self.said[key] = verdict
                out.append(text)
        self.said = {k: v for k, v in self.said.items() if k in down}
        return out

    def down_by_node(self, me: str, peer: str) -> Mapping[str, frozenset[str]]:
        """What the placement reads: each node that reported, with its groups without carrier."""
        out: dict[str, frozenset[str]] = {}
        if self.raw is not None:
            out[me] = self.effective
        if self.peer is not None:
            out[peer] = self.peer
        return out


def encode(down: frozenset[str], topology: Topology) -> str:
    return encode_groups(down, topology)


def with_field(fields: Mapping[str, str], state: LinkState, topology: Topology) -> Mapping[str, str]:
    """A message to send, with this node's `hbd_link` when it is one that carries it and the monitor reports."""
    if not state.known or fields.get("t") not in CARRIED_BY:
        return fields
    return {**fields, LINK_FIELD: encode(state.effective, topology)}


def decode(fields: Mapping[str, str], topology: Topology) -> frozenset[str] | None:
    """The sender's groups without VIP carrier; None when it sent no `hbd_link` (it does not report), or the
    message is not one that carries it."""
    if fields.get("t") not in CARRIED_BY:
        return None
    return decode_groups(fields.get(LINK_FIELD), topology)


@dataclass
class AvoidDeadLinks:
    """A placement wrapper: a group is moved off a node without carrier on its VIP interface to a live node
    that reported carrier there; otherwise the wrapped placement decides."""

    inner: Placement
    down: Callable[[], Mapping[str, frozenset[str]]]  # node -> its groups without carrier (reporting nodes)

    def place(self, situation: Situation) -> Mapping[str, Desired]:
        return avoid_dead_links(situation, self.inner.place(situation), self.down())


def avoid_dead_links(s: Situation, desired: Mapping[str, Desired],
                     down: Mapping[str, frozenset[str]]) -> Mapping[str, Desired]:
    out: dict[str, Desired] = {}
    for key, d in desired.items():
        if d.holder is None or key not in down.get(d.holder, frozenset()):
            out[key] = d
            continue
        fit = [n.name for n in s.nodes if n.alive and n.name in down and key not in down[n.name]]
        if not fit:
            out[key] = d  # no node known to have carrier there: nowhere better
            continue
        holding = [name for name in fit if name in s.holding(key)]
        out[key] = Desired(key, (holding or fit)[0])
    return out
