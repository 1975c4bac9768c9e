"""When an admin request on a service has its outcome: what `hbd svc` (like clusvcadm) waits for (pure).

The coordinator answers a request at once (accepted, or a typed Refusal: nothing changed); what was asked
happens later, through announcements of the service table. AdminWait follows the tables this node gets
after the acceptance and says when the service got where the request sends it (DONE), or ended up
somewhere else for good (FAILED, with why). The table seen right after the acceptance may still be the one
before the change (the reply can overtake the announcement), so every rule waits for a sign of the change
itself: the frozen flag, the service enabled, stopped, started on another node, a new restart generation.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Mapping

from hbd.core.service_states import ServiceState
from hbd.core.service_table import AdminOp, AdminRequest, DisabledBy, Entry, Refusal

RUNNING = frozenset({ServiceState.STARTED, ServiceState.FROZEN})


class AdminResult(enum.Enum):
    DONE = "done"
    REFUSED = "refused"  # the coordinator refused it: nothing changed
    FAILED = "failed"  # accepted, and the service ended up elsewhere than asked (see FailedBecause)
    TIMED_OUT = "timed-out"  # accepted, no outcome within the wait: the service may be on its way
    UNAVAILABLE = "unavailable"  # this daemon runs no cluster.conf services: nothing changed


class FailedBecause(enum.Enum):
    STOP_FAILED = "its stop failed: it is failed on its owner (disable it again once the cause is fixed)"
    RECOVERY_DISABLED = "it failed and its recovery policy disabled it"
    ORIGINAL_OWNER = "it could not start elsewhere and runs on its original owner again"


@dataclass(frozen=True)
class AdminOutcome:
    result: AdminResult
    refusal: Refusal | None = None
    because: FailedBecause | None = None
    entry: Entry | None = None  # the service as the outcome found it
    elsewhere: bool = False  # done, but on another node than `-m` asked (a recovery moved it on)


class AdminWait:
    def __init__(self, request: AdminRequest, before: Entry | None):
        self.request = request
        self.before = before if before is not None else Entry()
        self.accepted = False
        self.enabled_seen = False  # an entry enabled since the acceptance (the enable/relocate took)
        self.target_seen = False  # an entry placed on the -m target
        self.left = False  # an entry not running on the original owner (relocate), or not running (restart)
        self.changed = False  # an entry other than the one before the request

    def replied(self, refusal: Refusal | None) -> AdminOutcome | None:
        """The coordinator's answer: a refusal is final; an acceptance starts the wait."""
        if refusal is not None:
            return AdminOutcome(AdminResult.REFUSED, refusal=refusal, entry=self.before)
        self.accepted = True
        return None

    def timed_out(self, table: Mapping[str, Entry] | None) -> AdminOutcome:
        return AdminOutcome(AdminResult.TIMED_OUT, entry=table.get(self.request.service) if table else None)

    def observe(self, table: Mapping[str, Entry] | None) -> AdminOutcome | None:
        """A table this node follows (call after every step once accepted); the outcome, or None: not yet."""
        entry = table.get(self.request.service) if self.accepted and table is not None else None
        if entry is None:
            return None
        self._note(entry)
        op, b = self.request.op, self.before
        running = entry.owner is not None and entry.state in RUNNING
        if op is AdminOp.FREEZE:
            return self._done(entry) if entry.frozen else None
        if op is AdminOp.UNFREEZE:
            return self._done(entry) if not entry.frozen else None
        if op is AdminOp.DISABLE:
            if not entry.enabled and entry.owner is None:
                return self._done(entry)
            stop_failed = entry.state is ServiceState.FAILED and (b.state is not ServiceState.FAILED or self.left)
            return self._failed(FailedBecause.STOP_FAILED, entry) if stop_failed else None
        if self.enabled_seen and entry.disabled_by is DisabledBy.RECOVERY:
            return self._failed(FailedBecause.RECOVERY_DISABLED, entry)
        if self.enabled_seen and entry.state is ServiceState.FAILED and self.changed:
            return self._failed(FailedBecause.STOP_FAILED, entry)
        if op is AdminOp.RESTART:
            restarted = entry.generation > b.generation and self.left and running
            return self._done(entry) if restarted else None
        target = self.request.target
        if target is not None:
            if running and entry.owner == target:
                return self._done(entry)
            if running and self.target_seen and entry.placement == entry.owner:
                return self._done(entry, elsewhere=True)  # it failed there and its recovery moved it on
            return None
        if op is AdminOp.RELOCATE and b.owner is not None:
            if running and entry.owner != b.owner:
                return self._done(entry)
            if running and self.left and entry.placement == b.owner:
                return self._failed(FailedBecause.ORIGINAL_OWNER, entry)
            return None
        return self._done(entry) if running and entry.enabled else None

    def _note(self, entry: Entry) -> None:
        b, target = self.before, self.request.target
        self.changed = self.changed or entry != b
        self.enabled_seen = self.enabled_seen or (entry.enabled and (not b.enabled or entry != b))
        self.target_seen = self.target_seen or (target is not None and entry.placement == target)
        if self.request.op is AdminOp.RESTART:
            self.left = self.left or (entry.generation > b.generation and entry.state not in RUNNING)
        elif self.request.op is AdminOp.DISABLE:
            self.left = self.left or entry.state is not ServiceState.FAILED
        else:
            self.left = self.left or entry.owner != b.owner or entry.state not in RUNNING

    def _done(self, entry: Entry, elsewhere: bool = False) -> AdminOutcome:
        return AdminOutcome(AdminResult.DONE, entry=entry, elsewhere=elsewhere)

    def _failed(self, because: FailedBecause, entry: Entry) -> AdminOutcome:
        return AdminOutcome(AdminResult.FAILED, because=because, entry=entry)
