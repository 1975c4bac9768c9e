"""Events fed to the membership core, actions it returns, and the frozen view `hbd membership` prints."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from hbd.core.messages import Field, Message

NodeStatus = Literal["init", "up", "active", "dead"]
LogLevel = Literal["debug", "info", "notice", "WARN", "ERROR", "CRIT"]


# --- events ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Received:
    """An authenticated message that arrived on one local link (medium)."""

    message: Message
    link: str


@dataclass(frozen=True)
class Tick:
    """Time has passed; the runtime sends one no later than `Membership.wakeup_at()`."""


Event = Received | Tick


# --- actions ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Send:
    """Broadcast on every medium; the runtime adds the control fields (src, srcuuid, seq, hg, ts, ld, ttl)."""

    body: tuple[Field, ...]
    seq: int | None  # None for NS_ types, which are not sequenced
    dest: str | None = None


@dataclass(frozen=True)
class Log:
    level: LogLevel
    text: str


@dataclass(frozen=True)
class NodeChanged:
    node: str
    status: NodeStatus


@dataclass(frozen=True)
class LinkChanged:
    node: str
    link: str
    up: bool


@dataclass(frozen=True)
class PeerRestarted:
    """A higher generation: the peer's daemon restarted (not a partition)."""

    node: str
    generation: int


@dataclass(frozen=True)
class PeerReturned:
    """A peer declared dead spoke again with the same generation: the partition healed."""

    node: str


@dataclass(frozen=True)
class CommUp:
    """Every configured node has been heard from or declared dead; the local status is now active."""


@dataclass(frozen=True)
class LocalHeartbeatLost:
    """Our own looped-back packets stopped for longer than deadtime (heartbeat.md §7.8)."""


class DropKind(enum.Enum):
    """Why an authenticated message was dropped by membership (the transport's rejects are RejectReason)."""

    OLD_GENERATION = "older generation (replay)"
    OWN_OLD_GENERATION = "own packet of an older generation (replay)"
    STALE_SEQ = "old seq on its link (replay or reordering)"
    UNKNOWN_NODE = "unknown node"
    INCOMPLETE = "without src, hg or t"
    BAD_SEQ = "bad seq"


@dataclass(frozen=True)
class Dropped:
    """One dropped message; the runtime counts every one and logs `text` rate-limited per kind."""

    kind: DropKind
    node: str
    link: str
    text: str  # Heartbeat's line where it has one


@dataclass(frozen=True)
class Deliver:
    """A sequenced message for the layers above membership (resource, ask_resources, ...)."""

    message: Message


Action = (Send | Log | NodeChanged | LinkChanged | PeerRestarted | PeerReturned | CommUp | LocalHeartbeatLost | Deliver
          | Dropped)


# --- view ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LinkView:
    name: str
    up: bool
    age_s: float | None  # since the last packet on this link; None if never heard


@dataclass(frozen=True)
class NodeView:
    name: str
    status: NodeStatus
    deadtime_ms: int
    age_s: float | None
    generation: int | None
    links: tuple[LinkView, ...]
    intervals: tuple[tuple[int, int], ...]  # (bucket upper bound ms, count) of heartbeat intervals


@dataclass(frozen=True)
class MembershipView:
    local: str
    local_status: NodeStatus
    comm_up: bool
    nodes: tuple[NodeView, ...]
