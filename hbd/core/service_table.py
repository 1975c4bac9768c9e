"""The service table the coordinator announces, and the service-layer messages between nodes (pure values).

The table is the one placement decision every node follows: per service, whether it is enabled or frozen,
the node it is placed on, and `go`, which the coordinator sets only once no other node may hold the
service (every member's report acknowledges the placement and shows it stopped there, and no departed node
may still run it). A node starts a service only when the coordinator's current announcement places it on
that node with `go`. Announcements carry increasing sequence numbers; a node follows only the newest one
from the coordinator of its own membership.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Mapping, Union

from hbd.core.service_model import Catalog
from hbd.core.service_states import ServiceState


class DisabledBy(enum.Enum):
    """Why a service is disabled (shown by status; typed so that no code reads a reason text)."""

    AUTOSTART = "autostart is off"
    ADMIN = "disabled by the administrator"
    RECOVERY = "disabled by its recovery policy"


@dataclass(frozen=True)
class Entry:
    enabled: bool = True
    frozen: bool = False
    placement: str | None = None  # the node that should run it; None: nowhere
    go: bool = False  # the placement may start it now
    since: int = 0  # the announcement that gave the current placement
    generation: int = 0  # bumped by an admin restart (the owner stops and starts it again) and by a disable
    avoid: frozenset[str] = frozenset()  # nodes a recovery relocation moved it away from
    owner: str | None = None  # the member that holds it now (per the reports)
    last_owner: str | None = None
    state: ServiceState = ServiceState.STOPPED  # as clustat shows it: the owner's state, else stopped/disabled
    disabled_by: DisabledBy | None = None

    @property
    def shown(self) -> tuple[str, str]:
        """clustat's Owner (Last) and State columns: the last owner in parentheses when nobody owns it,
        `[Z]` after the state when frozen."""
        owner = self.owner if self.owner is not None else f"({self.last_owner or 'none'})"
        return owner, self.state.value + (" [Z]" if self.frozen else "")


Table = Mapping[str, Entry]


def initial_table(catalog: Catalog) -> dict[str, Entry]:
    """The table of a cluster that has never run: autostart services enabled, the others disabled."""
    return {s.name: Entry() if s.autostart else
            Entry(enabled=False, state=ServiceState.DISABLED, disabled_by=DisabledBy.AUTOSTART)
            for s in catalog.services}


# --- messages --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Announce:
    sender: str
    seq: int
    members: frozenset[str]  # the membership it was computed for
    table: Table


@dataclass(frozen=True)
class Report:
    """A node's state, sent to the coordinator after every change of it."""

    sender: str
    members: frozenset[str]  # the sender's membership when it sent this
    seen_seq: int  # the newest announcement the sender has followed
    last: Announce | None  # that announcement (a new coordinator adopts the newest table)
    local: Mapping[str, ServiceState]
    suspects: Mapping[str, int] = field(default_factory=dict)  # departed node -> ms until it cannot run anything


class AdminOp(enum.Enum):
    ENABLE = "enable"
    DISABLE = "disable"
    RELOCATE = "relocate"
    RESTART = "restart"
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"


@dataclass(frozen=True)
class AdminRequest:
    op: AdminOp
    service: str
    target: str | None = None  # -m NODE (enable, relocate)


class RecoveryOp(enum.Enum):
    RELOCATE = "relocate"  # the sender's recovery policy moves the service away from it
    DISABLE = "disable"


@dataclass(frozen=True)
class RecoveryRequest:
    op: RecoveryOp
    service: str


class Refusal(enum.Enum):
    """Why the coordinator refused an admin request (nothing changed); clusvcadm's result codes."""

    NO_SUCH_SERVICE = "Service does not exist"
    NO_SUCH_NODE = "Target node is not a cluster member"
    TARGET_DOWN = "Target node dead / nonexistent"
    OUTSIDE_RESTRICTED_DOMAIN = "Target node is outside the service's restricted failover domain"
    NOT_QUORATE = "Operation requires quorum"
    NO_COORDINATOR = "Temporary failure; try again"
    FROZEN = "Failure: Service is frozen"
    NOT_RUNNING = "Service is not running"
    SERVICE_FAILED = "Service failed to stop cleanly: disable it first"
    EXCLUSIVE_CONFLICT = "Service not runnable: cannot run exclusive"
    NO_OTHER_NODE = "Service not runnable: no other node can run it"


@dataclass(frozen=True)
class Forward:
    """A request for the coordinator: an admin request made on `sender`, or a recovery step of `sender`."""

    sender: str
    request_id: int
    request: AdminRequest | RecoveryRequest


@dataclass(frozen=True)
class Reply:
    request_id: int
    refusal: Refusal | None  # None: accepted


ServiceMessage = Union[Announce, Report, Forward, Reply]
