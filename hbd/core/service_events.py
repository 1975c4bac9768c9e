"""What the service core is told (events) and what it asks for (actions): typed values, no prose to parse."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Union

from hbd.core.ownership_types import Log
from hbd.core.service_states import ServiceState
from hbd.core.service_table import AdminRequest, Refusal, ServiceMessage


class Op(enum.Enum):
    START = "start"
    STOP = "stop"
    RESTART_SUBTREE = "restart-subtree"  # stop then start one independent subtree, the service staying up


# --- events ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MembersChanged:
    """The membership layer's view: the nodes this node can talk to, itself included (links are
    reliable or cut: a node either gets every message of a member, in order, or the member leaves)."""

    members: frozenset[str]


@dataclass(frozen=True)
class QuorumChanged:
    quorate: bool


@dataclass(frozen=True)
class NodeFenced:
    """The fencing layer confirmed that a departed node is off: it runs nothing."""

    node: str


@dataclass(frozen=True)
class MessageReceived:
    message: ServiceMessage


@dataclass(frozen=True)
class OperationDone:
    service: str
    op: Op
    ok: bool
    subtree: str | None = None  # for RESTART_SUBTREE


@dataclass(frozen=True)
class StatusFailed:
    """A status check of the running service failed; `subtree` names the root of the independent subtree
    the failed resource is in (Subtree.ident), None when it is in none."""

    service: str
    subtree: str | None = None
    resource: str = ""  # `type:primary` of the failed resource (for status and the log)
    reason: str = ""  # for status and the log only


@dataclass(frozen=True)
class AdminRequested:
    request_id: int
    request: AdminRequest


@dataclass(frozen=True)
class Tick:
    """Time passed (the driver calls at `next_deadline`)."""


@dataclass(frozen=True)
class StartupStopFailed:
    """The stop of every service that the daemon runs before it joins failed for these: each may still run
    here. They join as FAILED (placed here, started nowhere else) until an admin disables them, which tries
    the stop again, as after any failed stop; the node takes part in the cluster's other services."""

    services: frozenset[str]


Event = Union[MembersChanged, QuorumChanged, NodeFenced, MessageReceived, OperationDone, StatusFailed,
              AdminRequested, Tick, StartupStopFailed]


# --- actions ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StartService:
    service: str


@dataclass(frozen=True)
class StopService:
    service: str


@dataclass(frozen=True)
class RestartSubtree:
    service: str
    subtree: str


@dataclass(frozen=True)
class Send:
    to: str
    message: ServiceMessage


@dataclass(frozen=True)
class ServiceTransition:
    service: str
    old: ServiceState
    new: ServiceState


@dataclass(frozen=True)
class AdminReply:
    request_id: int
    refusal: Refusal | None  # None: the coordinator accepted it (the CLI then waits for the outcome)


class FenceCause(enum.Enum):
    STOP_FAILED_WITHOUT_QUORUM = "a stop failed on a node without quorum"


@dataclass(frozen=True)
class SelfFence:
    """Reboot this node now: it may still run a service that the quorate partition will start elsewhere."""

    service: str
    cause: FenceCause


@dataclass(frozen=True)
class DoubleOwnership:
    """After a partition, `service` runs here and on other nodes too (each side was quorate alone: two_node
    without fencing); `keeper` is where the coordinator places it: it keeps it, the others stop it."""

    service: str
    keeper: str | None
    holders: frozenset[str]


@dataclass(frozen=True)
class Reannounce:
    """The double ownership of `service` is over and it runs here: announce its addresses again (the other
    holder's stop took them away, and the clients' neighbour caches may still point at that node)."""

    service: str


Action = Union[StartService, StopService, RestartSubtree, Send, ServiceTransition, AdminReply, SelfFence, Log,
               DoubleOwnership, Reannounce]


# --- the recovery policy's steps (hbd/core/service_recovery.py) ---------------------------------------

class Step(enum.Enum):
    RESTART = "restart"  # in place
    RELOCATE = "relocate"
    DISABLE = "disable"
