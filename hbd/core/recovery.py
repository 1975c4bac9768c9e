"""What to do when a running resource fails its status check: a pure policy, `(event, now_ms) -> actions`.

One policy shape covers both configuration formats (doc/monitoring.md):

- haresources (Heartbeat had none built in; seed 001 bolts on `mon` + `hb_standby`): restart the group in
  place up to `max_restarts` times within `restart_expire_ms`, then hand it to the peer
  (`HARESOURCES_DEFAULT`, changed by ha.cf `monitor`).
- rgmanager's `<service recovery=... max_restarts=... restart_expire_time=...>`: restart, relocate, disable,
  restart-disable (restart, then disable beyond the threshold); `__max_failures` / `__failure_expire_time`
  (failures tolerated, counted as success, until N happened within T); `__independent_subtree` roots with
  their own `__max_restarts` / `__restart_expire_time` (the subtree restarts alone; beyond its threshold,
  or when its restart fails, the whole group is recovered by the group's policy).

No I/O and no clock: windows are pruned against the `now` of each event. The caller (hbd/core/node.py for
haresources, the service core for cluster.conf) turns `Relocate` into its own placement path and tells
the core when a restart it asked for ended (`RecoveryDone`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Mapping

from hbd.core.ownership_types import Log


class Recovery(str, Enum):
    RESTART = "restart"
    RELOCATE = "relocate"
    DISABLE = "disable"
    RESTART_DISABLE = "restart-disable"


@dataclass(frozen=True)
class RecoveryPolicy:
    recovery: Recovery = Recovery.RESTART
    max_restarts: int = 0  # restarts in place before escalating; 0: unlimited (rgmanager's default)
    restart_expire_ms: int = 0  # a restart is forgotten after this long; 0: never
    max_failures: int = 0  # failures tolerated (counted as success) until this many happened ...
    failure_expire_ms: int = 0  # ... within this long (0: ever)

    def __post_init__(self) -> None:
        if min(self.max_restarts, self.restart_expire_ms, self.max_failures, self.failure_expire_ms) < 0:
            raise ValueError("recovery limits are never negative")


# haresources groups: restart in place twice within 10 minutes; the third failure hands the group over.
HARESOURCES_DEFAULT = RecoveryPolicy(Recovery.RESTART, max_restarts=2, restart_expire_ms=600_000)


@dataclass(frozen=True)
class GroupRecovery:
    policy: RecoveryPolicy = HARESOURCES_DEFAULT
    subtrees: Mapping[str, RecoveryPolicy] = field(default_factory=dict)  # independent subtree root -> policy


# --- events ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckFailed:
    """A status check of `resource` in `group` failed or timed out. `subtree`: the independent subtree root
    that contains the resource (the caller knows the tree), None when it is in no independent subtree."""

    group: str
    resource: str
    reason: str  # for status and the log only
    subtree: str | None = None


@dataclass(frozen=True)
class CheckOk:
    group: str
    resource: str


@dataclass(frozen=True)
class RecoveryDone:
    """The restart (of `subtree`, or the whole group when None) that this core asked for has ended."""

    group: str
    ok: bool
    reason: str = ""
    subtree: str | None = None


@dataclass(frozen=True)
class RestartingInstead:
    """The caller could not relocate the group (no peer to take it) and restarts it in place instead."""

    group: str


@dataclass(frozen=True)
class GroupLeft:
    """The group stopped here or moved away: a restart in progress is forgotten (the counts stay)."""

    group: str


@dataclass(frozen=True)
class Cleared:
    """The admin cleared the fail counts of `group` (None: of every group)."""

    group: str | None = None


Event = CheckFailed | CheckOk | RecoveryDone | RestartingInstead | GroupLeft | Cleared


# --- actions -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RestartResource:
    """Restart the independent subtree rooted at `subtree` in place (stop it, children first; start it)."""

    group: str
    subtree: str
    restarts: int  # restarts of this subtree within its window, this one included


@dataclass(frozen=True)
class RestartGroup:
    group: str
    restarts: int  # restarts of the group within its window, this one included


@dataclass(frozen=True)
class Relocate:
    """Hand the group to another node (haresources: the standby exchange, as after a failed start)."""

    group: str
    failures: int


@dataclass(frozen=True)
class Disable:
    """Stop the group and leave it stopped until the admin enables it again."""

    group: str
    failures: int


Action = RestartResource | RestartGroup | Relocate | Disable | Log


# --- status ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LastFailure:
    resource: str
    at_ms: int
    reason: str


@dataclass(frozen=True)
class FailCount:
    failures: int = 0  # failed checks since the last clear
    restarts: int = 0  # restarts of the group in place within its window
    last: LastFailure | None = None


@dataclass
class _Record:
    failures: int = 0
    last: LastFailure | None = None
    restarts: list[int] = field(default_factory=list)  # group restarts (times)
    subtree_restarts: dict[str, list[int]] = field(default_factory=dict)
    tolerated: dict[str | None, list[int]] = field(default_factory=dict)  # scope -> failures counted as success


def _within(times: list[int], expire_ms: int, now: int) -> list[int]:
    return list(times) if expire_ms <= 0 else [t for t in times if now - t < expire_ms]


class RecoveryCore:
    def __init__(self, groups: Mapping[str, GroupRecovery], default: GroupRecovery = GroupRecovery()):
        self.groups = dict(groups)
        self.default = default
        self._records: dict[str, _Record] = {}
        self.busy: dict[str, str | None] = {}  # group -> the subtree being restarted (None: the whole group)

    def config(self, group: str) -> GroupRecovery:
        return self.groups.get(group, self.default)

    def counts(self, group: str, now: int) -> FailCount:
        record = self._records.get(group)
        if record is None:
            return FailCount()
        restarts = _within(record.restarts, self.config(group).policy.restart_expire_ms, now)
        return FailCount(record.failures, len(restarts), record.last)

    def handle(self, event: Event, now: int) -> list[Action]:
        match event:
            case CheckFailed():
                return self._failed(event, now)
            case CheckOk():
                return []
            case RecoveryDone():
                return self._done(event, now)
            case RestartingInstead(group):
                self.busy[group] = None
                return []
            case GroupLeft(group):
                self.busy.pop(group, None)
                return []
            case Cleared(group):
                for key in ([group] if group is not None else list(self._records)):
                    self._records.pop(key, None)
                return []
        raise AssertionError(f"unknown event {event!r}")  # pragma: no cover (mypy checks the union)

    def _failed(self, ev: CheckFailed, now: int) -> list[Action]:
        if ev.group in self.busy:
            return []  # a restart is under way: its outcome decides
        record = self._records.setdefault(ev.group, _Record())
        record.failures += 1
        record.last = LastFailure(ev.resource, now, ev.reason)
        cfg = self.config(ev.group)
        subtree = ev.subtree if ev.subtree in cfg.subtrees else None
        scope = cfg.policy if subtree is None else cfg.subtrees[subtree]
        if scope.max_failures > 0:
            seen = _within(record.tolerated.get(subtree, []), scope.failure_expire_ms, now) + [now]
            record.tolerated[subtree] = seen
            if len(seen) < scope.max_failures:
                return [Log("WARN", f"{ev.resource} in {ev.group} failed its check ({ev.reason}): tolerated, "
                                    f"{len(seen)} of {scope.max_failures} failures")]
            record.tolerated[subtree] = []
        if subtree is not None:
            restarts = _within(record.subtree_restarts.get(subtree, []), scope.restart_expire_ms, now)
            if scope.max_restarts == 0 or len(restarts) < scope.max_restarts:
                record.subtree_restarts[subtree] = restarts + [now]
                self.busy[ev.group] = subtree
                return [Log("WARN", f"Some independent resources in {ev.group} failed ({ev.resource}: "
                                    f"{ev.reason}); restarting {subtree} in place"),
                        RestartResource(ev.group, subtree, len(restarts) + 1)]
            record.subtree_restarts[subtree] = []
        return self._recover_group(ev.group, record, cfg.policy, now,
                                   f"{ev.resource} failed its check: {ev.reason}")

    def _recover_group(self, group: str, record: _Record, policy: RecoveryPolicy, now: int,
                       why: str) -> list[Action]:
        if policy.recovery in (Recovery.RESTART, Recovery.RESTART_DISABLE):
            restarts = _within(record.restarts, policy.restart_expire_ms, now)
            if policy.max_restarts == 0 or len(restarts) < policy.max_restarts:
                record.restarts = restarts + [now]
                self.busy[group] = None
                return [Log("WARN", f"{group}: {why}; restarting it in place ({len(restarts) + 1}"
                                    f"{'' if policy.max_restarts == 0 else f' of {policy.max_restarts}'})"),
                        RestartGroup(group, len(restarts) + 1)]
            return self._beyond(group, record, policy, f"{why}; restart threshold exceeded")
        return self._beyond(group, record, policy, why)

    def _beyond(self, group: str, record: _Record, policy: RecoveryPolicy, why: str) -> list[Action]:
        record.restarts = []  # a relocated or disabled group starts counting afresh
        record.subtree_restarts.clear()
        if policy.recovery in (Recovery.DISABLE, Recovery.RESTART_DISABLE):
            return [Log("ERROR", f"{group}: {why}; disabling it"), Disable(group, record.failures)]
        return [Log("ERROR", f"{group}: {why}; relocating it"), Relocate(group, record.failures)]

    def _done(self, ev: RecoveryDone, now: int) -> list[Action]:
        if ev.group not in self.busy:
            return []
        subtree = self.busy.pop(ev.group)
        if ev.ok:
            return [Log("info", f"{ev.group}: {'restarted' if subtree is None else subtree + ' restarted'} "
                                "in place")]
        record = self._records.setdefault(ev.group, _Record())
        what = ev.group if subtree is None else subtree
        record.last = LastFailure(subtree or ev.group, now, ev.reason or "restart failed")
        policy = self.config(ev.group).policy
        if subtree is not None:  # the subtree could not be restarted: the whole group is recovered
            return self._recover_group(ev.group, record, policy, now, f"restart of {what} failed: {ev.reason}")
        return self._beyond(ev.group, record, policy, f"restart of {what} failed: {ev.reason}")
