"""The groups' state machine and their operation queue (pure, no I/O).

Every state change goes through `GroupOperations.change_state`, which refuses an edge that is not in
`TRANSITIONS` (IllegalTransition: a bug of the core, raised so that tests and the simulators fail on it)
and emits a GroupTransition action, which the runtime logs and shows. Group operations run one at a time:
`busy` is the group whose start or stop is running, `queue` the ones waiting their turn.
"""
from __future__ import annotations

from typing import Callable, Iterable, Mapping, NamedTuple

from hbd.core.ownership_types import Cause, GroupState, GroupTransition, Op, Outbox, StartGroup, StopGroup

S = GroupState
TRANSITIONS: frozenset[tuple[GroupState, GroupState]] = frozenset({
    (S.STOPPED, S.RUNNING),  # the start-up probe found it running here
    (S.STOPPED, S.PARTIAL),  # the start-up probe found part of it running here
    (S.STOPPED, S.STARTING),
    (S.PARTIAL, S.STARTING),  # completing it: the rest is started in plan order
    (S.STARTING, S.RUNNING),
    (S.STARTING, S.STOPPED),  # the start failed (the runtime stopped what it had started)
    (S.RUNNING, S.STOPPING),
    (S.PARTIAL, S.STOPPING),
    (S.FAILED, S.STOPPING),  # a stop that failed for good, tried again (shutdown, double ownership)
    (S.STOPPING, S.STOPPED),
    (S.STOPPING, S.FAILED),  # the stop failed after every retry: it may still run here
})
# States from which an operation may begin.
STARTABLE = frozenset({S.STOPPED, S.PARTIAL})
STOPPABLE = frozenset({S.RUNNING, S.FAILED, S.PARTIAL})


class IllegalTransition(Exception):
    def __init__(self, key: str, old: GroupState, new: GroupState, cause: Cause):
        super().__init__(f"group {key}: {old.value} -> {new.value} ({cause.value}) is not an allowed transition")
        self.key, self.old, self.new, self.cause = key, old, new, cause


class Queued(NamedTuple):
    """A group operation waiting its turn."""

    op: Op
    key: str
    cause: Cause
    reason: str  # for the log


class GroupOperations:
    def __init__(self, keys: Iterable[str]):
        self._state: dict[str, GroupState] = {k: S.STOPPED for k in keys}
        self.queue: list[Queued] = []
        self.busy: str | None = None
        self.busy_cause: Cause | None = None  # the running operation's cause, carried to its outcome

    @property
    def state(self) -> Mapping[str, GroupState]:
        return self._state

    @property
    def held(self) -> frozenset[str]:
        return frozenset(k for k, s in self._state.items() if s.held)

    @property
    def idle(self) -> bool:
        return self.busy is None and not self.queue

    def change_state(self, key: str, new: GroupState, cause: Cause, out: Outbox) -> None:
        old = self._state[key]
        if (old, new) not in TRANSITIONS:
            raise IllegalTransition(key, old, new, cause)
        self._state[key] = new
        out.add(GroupTransition(key, old, new, cause))

    # --- the queue ------------------------------------------------------------------------------

    def enqueue(self, op: Op, key: str, cause: Cause, reason: str) -> None:
        if (op, key) not in [(q.op, q.key) for q in self.queue]:
            self.queue.append(Queued(op, key, cause, reason))

    def drop(self, op: Op | None = None) -> None:
        """Forget queued operations (all, or those of one kind)."""
        self.queue = [q for q in self.queue if op is not None and q.op is not op]

    def pump(self, out: Outbox, may_start: Callable[[str], bool], peer: str) -> None:
        """Begin queued operations while none runs; stale entries (state moved on) drop out."""
        while self.busy is None and self.queue:
            op, key, cause, reason = self.queue.pop(0)
            if op is Op.START:
                if self._state[key] not in STARTABLE:
                    continue
                if not may_start(key):
                    out.log("info", f"Not starting resource group {key}: {peer} may hold it")
                    continue
                self._begin(key, S.STARTING, cause, out)
                out.log("info", f"Acquiring resource group: {key} ({reason})")
                out.add(StartGroup(key, reason, cause))
            else:
                if self._state[key] not in STOPPABLE:
                    continue
                self._begin(key, S.STOPPING, cause, out)
                out.log("info", f"Releasing resource group: {key} ({reason})")
                out.add(StopGroup(key, reason, cause))

    def _begin(self, key: str, new: GroupState, cause: Cause, out: Outbox) -> None:
        self.change_state(key, new, cause, out)
        self.busy, self.busy_cause = key, cause

    def finish(self, key: str, new: GroupState, out: Outbox) -> None:
        """The running operation on `key` ended in state `new`."""
        cause = self.busy_cause or Cause.RETRY
        self.busy, self.busy_cause = None, None
        self.change_state(key, new, cause, out)
