"""Events into and actions out of the ownership core (hbd.core.ownership), and its policy settings.

All times are milliseconds of the monotonic clock, supplied by the caller with each event.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Literal, Mapping

LogLevel = Literal["debug", "info", "WARN", "ERROR", "CRIT"]


class GroupState(str, Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    PARTIAL = "partial"  # found partly running at start-up: held, and completed in plan order once safe
    FAILED = "failed"  # a stop failed for good: it may still run here, so it still counts as held

    @property
    def held(self) -> bool:
        return self is not GroupState.STOPPED


class Phase(str, Enum):
    """Where the ownership core is in its life (a `str` Enum: the values are what status shows)."""

    PROBING = "probing"  # waiting for the start-up probe (`Probed`)
    WAITING = "waiting"  # probed; waiting for membership to settle (`CommUp`)
    RUNNING = "running"
    SHUTTING_DOWN = "shutting_down"
    DOWN = "down"


class Cause(str, Enum):
    """Why a group is started or stopped. The runtime decides by it (e.g. whether IPaddr2 probes for a
    duplicate address); the reason text of StartGroup/StopGroup is for the log only."""

    PROBED = "probed"  # found running (or partly) here at start-up: only on GroupTransition
    PREFERRED = "preferred"  # this node's own group, held by nobody
    CLAIMED = "claimed"  # held by nobody, and a Heartbeat peer counts it as ours (its word-set)
    PEER_DEAD = "peer_dead"  # taken over from a peer declared dead: its addresses may still answer
    PEER_GAVE_UP = "peer_gave_up"  # the peer released everything and left (`shutdone`)
    HANDOVER = "handover"  # standby exchange: the peer confirmed the release (`done`), or we give it
    COMPLETION = "completion"  # found partly running here: the rest of it is started
    DOUBLE_OWNERSHIP = "double_ownership"  # stop: the peer, the group's preferred node, holds it too
    SHUTDOWN = "shutdown"
    RETRY = "retry"  # a failed stop, tried again

    @property
    def released_by_peer(self) -> bool:
        """The peer said it no longer holds the group's resources (so its addresses are gone)."""
        return self in (Cause.HANDOVER, Cause.PEER_GAVE_UP)


class Op(str, Enum):
    START = "start"
    STOP = "stop"


class StopEscalation(str, Enum):
    """What follows a stop that failed after every retry (ha.cf `on_stop_failure`, doc/daemon.md). In every
    case the group stays FAILED here (held, so the peer never starts it) and is never reported as stopped."""

    BLOCK = "block"  # the default: hold it, alert, wait for the admin (manual intervention)
    FENCE = "fence"  # fence this node through its own fence device (the peer then takes over)
    REBOOT = "reboot"  # announce it, then reboot this node (Heartbeat's escalation)


@dataclass(frozen=True)
class Policy:
    auto_failback: Literal["on", "off", "legacy"] = "on"
    fencing: bool = False  # a fence device is configured: never take over from an unfenced dead peer
    rqstdelay_ms: int = 10_000  # Heartbeat's wait when both nodes start together (only with Heartbeat peers)
    standby_reply_ms: int = 10_000  # no reply to a standby request within this: cancelled
    standby_limit_ms: int = 3_600_000  # a whole standby exchange
    stop_retries: int = 10  # extra attempts after a failed stop (Heartbeat: 10, 1 s apart)
    on_stop_failure: StopEscalation = StopEscalation.BLOCK  # after the last attempt
    stop_retry_ms: int = 1_000
    fence_retry_ms: int = 5_000
    failed_retry_ms: int = 30_000  # a group that failed to start while the peer is dead is tried again


# --- events -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Probed:
    """At start-up, before anything else: the groups whose resources are already running here.

    `running`: every resource of the group runs; `partial`: some do (the rest are started, in plan order,
    once the group may be started here)."""

    running: frozenset[str]
    partial: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CommUp:
    """Membership is settled: the peer has been heard from (alive) or declared dead after initdead."""

    peer_alive: bool


@dataclass(frozen=True)
class PeerDied:
    node: str


@dataclass(frozen=True)
class PeerJoined:
    """A peer that was dead (or restarted, or returned after a partition) is heard from again."""

    node: str
    after_partition: bool = False


@dataclass(frozen=True)
class Received:
    node: str
    fields: Mapping[str, str]


@dataclass(frozen=True)
class GroupStarted:
    key: str
    ok: bool
    reason: str = ""  # on failure: which resource failed and how (the runtime stopped what it started)


@dataclass(frozen=True)
class GroupStopped:
    key: str
    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class Fenced:
    node: str
    ok: bool


@dataclass(frozen=True)
class AdminRequest:
    kind: Literal["standby", "takeover"]
    which: str  # all | local | foreign | failback
    request_id: int = 0


@dataclass(frozen=True)
class ShutdownRequested:
    pass


@dataclass(frozen=True)
class HandOff:
    """Monitoring gave up on a group running here (hbd/core/recovery.py: beyond its restarts): hand it to
    the peer by the standby exchange once both sides are stable, as after a failed start."""

    key: str
    reason: str  # for the log only


@dataclass(frozen=True)
class Tick:
    """Timer event; the runtime sends one at least every `next_deadline()` ms."""


Event = (
    Probed | CommUp | PeerDied | PeerJoined | Received | GroupStarted | GroupStopped | Fenced | AdminRequest
    | ShutdownRequested | HandOff | Tick
)


# --- actions ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Send:
    fields: Mapping[str, str]


@dataclass(frozen=True)
class StartGroup:
    key: str
    reason: str  # for the log only
    cause: Cause
    # the node core (hbd/core/pre_probe.py): taken over from a dead peer whose addresses of the group all
    # stayed silent during a whole, fresh pre-probe window just before the death verdict
    pre_probe_silent: bool = False

    @property
    def peer_released(self) -> bool:
        """The start option: the group's addresses are known to be gone from the peer (it said it released
        them, or the pre-probe heard nothing), so IPaddr2 need not run its duplicate-address probe again."""
        return self.cause.released_by_peer or self.pre_probe_silent


@dataclass(frozen=True)
class StopGroup:
    key: str
    reason: str  # for the log only
    cause: Cause


@dataclass(frozen=True)
class GroupTransition:
    """A group changed state (hbd/core/group_states.py: only along an edge of its table). `cause`: the
    operation's cause (a start's or stop's), carried to its outcome; PROBED for what the start-up probe found."""

    key: str
    old: GroupState
    new: GroupState
    cause: Cause


@dataclass(frozen=True)
class Fence:
    node: str


@dataclass(frozen=True)
class Announce:
    """Re-announce the group's addresses (gratuitous ARP / unsolicited NA): the group stayed here while
    the peer held it too (a healed partition, double ownership), so clients may still point at the peer."""

    key: str


@dataclass(frozen=True)
class Log:
    level: LogLevel
    text: str


@dataclass(frozen=True)
class AdminReply:
    request_id: int
    ok: bool
    text: str


@dataclass(frozen=True)
class StopFailedForGood:
    """A stop failed after every retry: the group is FAILED (held); the runtime carries out `escalation`."""

    key: str
    escalation: StopEscalation = StopEscalation.BLOCK


@dataclass(frozen=True)
class HandOffFailed:
    """Groups monitoring gave up on (HandOff) were not handed over: the peer refused, did not answer, or the
    exchange ended otherwise. Those still running here are the node core's to restart in place (a dead
    resource must not stay as it is, held here and no longer restarted)."""

    keys: frozenset[str]
    reason: str  # for the log only


@dataclass(frozen=True)
class ShutdownComplete:
    pass


Action = (
    Send | StartGroup | StopGroup | GroupTransition | Fence | Announce | Log | AdminReply | StopFailedForGood
    | HandOffFailed | ShutdownComplete
)


@dataclass
class Outbox:
    """Collects the actions of one step, in order."""

    actions: list[Action] = field(default_factory=list)

    def send(self, **fields: str) -> None:
        self.actions.append(Send(dict(fields)))

    def log(self, level: LogLevel, text: str) -> None:
        self.actions.append(Log(level, text))

    def add(self, action: Action) -> None:
        self.actions.append(action)
