"""A service's state on one node, as clustat shows it, and the edges it may take (pure).

Every node keeps one ServiceState per service for its own copy; `change` refuses an edge outside
TRANSITIONS (IllegalTransition: a bug of the core, raised so that tests and simulators fail on it).
The cluster-wide state clustat prints is the owner's state (service_table.py `Entry.shown`).
"""
from __future__ import annotations

import enum


class ServiceState(enum.Enum):
    STOPPED = "stopped"  # not running here; enabled
    STARTING = "starting"
    STARTED = "started"
    STOPPING = "stopping"
    FAILED = "failed"  # a stop failed: it may still run here; only an admin disable clears it
    DISABLED = "disabled"  # not running here; disabled cluster-wide
    RECOVERING = "recovering"  # a resource failed: stopping it before the recovery policy's next step
    FROZEN = "frozen"  # started here and frozen: no status checks, no moves

    @property
    def held(self) -> bool:
        """This node may have resources of the service up: it owns it."""
        return self in HELD


S = ServiceState
HELD = frozenset({S.STARTING, S.STARTED, S.STOPPING, S.FAILED, S.RECOVERING, S.FROZEN})

TRANSITIONS: frozenset[tuple[ServiceState, ServiceState]] = frozenset({
    (S.STOPPED, S.STARTING),  # assigned here by the coordinator, the previous owner's stop confirmed
    (S.STOPPED, S.DISABLED),  # disabled while not running here
    (S.DISABLED, S.STOPPED),  # enabled (a start follows once the coordinator gives `go`)
    (S.STARTING, S.STARTED),
    (S.STARTING, S.RECOVERING),  # the start failed: its resources are stopped, then the policy decides
    (S.STARTED, S.STOPPING),  # moved away, disabled, quorum lost, dependency stopped
    (S.STARTED, S.RECOVERING),  # a status check failed
    (S.STARTED, S.FROZEN),
    (S.FROZEN, S.STARTED),
    (S.FROZEN, S.STOPPING),  # quorum lost: a frozen service is stopped too (the quorate side may take it)
    (S.STOPPING, S.STOPPED),
    (S.STOPPING, S.DISABLED),
    (S.STOPPING, S.FAILED),
    (S.RECOVERING, S.STARTING),  # restart in place
    (S.RECOVERING, S.STOPPED),  # relocate (or no longer assigned here)
    (S.RECOVERING, S.DISABLED),  # recovery=disable, or restart-disable past its threshold
    (S.RECOVERING, S.FAILED),  # the recovery stop failed
    (S.FAILED, S.STOPPING),  # an admin disable tries the stop again
    (S.STOPPED, S.FAILED),  # the daemon's start-up stop failed (StartupStopFailed): it may still run here
})


class IllegalTransition(Exception):
    def __init__(self, service: str, old: ServiceState, new: ServiceState):
        super().__init__(f"service {service}: {old.value} -> {new.value} is not an allowed transition")
        self.service, self.old, self.new = service, old, new


def check(service: str, old: ServiceState, new: ServiceState) -> None:
    if (old, new) not in TRANSITIONS:
        raise IllegalTransition(service, old, new)
