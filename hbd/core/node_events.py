"""Events into and actions out of the composed node core (hbd.core.node). Times are integer milliseconds.

The node core takes the membership layer's input (authenticated messages, time), the ownership layer's
input (probe results, group operation results, fencing results, admin and shutdown requests) and what a
pre-probe round heard, and returns the actions of both layers, plus its own: a pre-probe round to run now,
a restart after own-heartbeat loss, and messages of other services. The ownership layer's `Send` never leaves the core: it is sequenced by
membership and comes out as a membership `Send`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from hbd.core import membership_events as m
from hbd.core import ownership_types as o
from hbd.core import recovery as r
from hbd.core.link_rule import VipCarrier  # the link monitor's report (link_rule.py)
from hbd.core.messages import Field, Message


# --- events ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Heard:
    """An authenticated message that arrived on one local medium (`link`)."""

    message: Message
    link: str


@dataclass(frozen=True)
class Tick:
    """Time has passed; the runtime sends one no later than `NodeCore.next_deadline()`."""


@dataclass(frozen=True)
class Broadcast:
    """A message of another service of this node (e.g. DRBD's outdate requests) to send, sequenced."""

    body: tuple[Field, ...]


@dataclass(frozen=True)
class PingReachability:
    """The ping monitor's report, sent only when it changes: the ping nodes (ha.cf `ping` addresses and
    `ping_group` names; a group is reachable when any member answers) that answered within deadping."""

    reachable: frozenset[str]


@dataclass(frozen=True)
class PreProbeVerdict:
    """What one pre-probe round (`ProbeNow`) heard for one of its groups (hbd/runtime/preprobe.py): `silent`:
    every address of the group was listened to and none answered; `listened_ms`: the shortest time one of
    them was listened to; `ended_ms`: when the first of them stopped being listened to (the runtime's
    monotonic clock, as `now_ms`). The node core decides what it means for the takeover (pre_probe.py)."""

    group: str
    silent: bool
    listened_ms: int
    ended_ms: int


OwnershipInput = (o.Probed | o.GroupStarted | o.GroupStopped | o.Fenced | o.AdminRequest | o.ShutdownRequested)
# Monitoring (hbd/runtime/monitor.py): check results, the outcome of a restart in place, an admin's cleanup.
RecoveryInput = r.CheckFailed | r.CheckOk | r.RecoveryDone | r.Cleared
Event = Heard | Tick | Broadcast | PingReachability | PreProbeVerdict | VipCarrier | OwnershipInput | RecoveryInput


# --- actions ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProbeNow:
    """Start one pre-probe round now: probe the addresses of `groups` (held by the silent peer) for
    `window_ms`; the round ends `lead_ms` before the peer's death verdict (doc/daemon.md)."""

    groups: frozenset[str]
    window_ms: int
    lead_ms: int


@dataclass(frozen=True)
class Restart:
    """Our own heartbeat was lost, or this node is isolated (`isolated`: no ping node answers and the peer
    has been silent past warntime): every group is being given up (a shutdown is under way); once it is
    complete, the daemon restarts after `delay_ms` (Heartbeat: deadtime + 1 s)."""

    delay_ms: int
    isolated: bool = False


@dataclass(frozen=True)
class Delivered:
    """A peer's message of another service of this node (its type is in `NodeConfig.service_types`)."""

    node: str
    fields: Mapping[str, str]


MembershipOutput = (m.Send | m.Log | m.Dropped | m.NodeChanged | m.LinkChanged | m.PeerRestarted | m.PeerReturned
                    | m.CommUp | m.LocalHeartbeatLost)
# Every ownership action but its Send (which membership sequences and sends) comes out as it is.
# Monitoring's decisions the runtime carries out: restart in place (then `RecoveryDone`); a hand-over goes
# through ownership (o.HandOff -> the standby exchange).
RecoveryOutput = r.RestartGroup | r.RestartResource
Action = MembershipOutput | o.Action | ProbeNow | Restart | Delivered | RecoveryOutput
