"""The services' recovery policy: hbd/core/recovery.py's RecoveryCore, configured from the Catalog (pure).

One RecoveryCore per node (restart counts are node-local, as in rgmanager); its decisions are turned into
the service core's steps: restart in place, relocate, disable, or restart one independent subtree alone.
A subtree is named `type:primary` (hbd/core/service_model.py Subtree.ident); a failed check must name
the same root in `StatusFailed.subtree`.
"""
from __future__ import annotations

from dataclasses import dataclass

from hbd.core import recovery as r
from hbd.core.ownership_types import Log
from hbd.core.service_events import Step
from hbd.core.service_model import Catalog, ServiceSpec


def group_recovery(spec: ServiceSpec) -> r.GroupRecovery:
    policy = r.RecoveryPolicy(spec.recovery, spec.max_restarts, spec.restart_expire_ms)
    subtrees = {t.ident: r.RecoveryPolicy(r.Recovery.RESTART, t.max_restarts, t.restart_expire_ms)
                for t in spec.independent}
    return r.GroupRecovery(policy, subtrees)


@dataclass(frozen=True)
class Decision:
    step: Step | None = None  # what the whole service does; None: nothing
    subtree: str | None = None  # restart this independent subtree alone (the service stays started)
    logs: tuple[Log, ...] = ()


class ServiceRecovery:
    def __init__(self, catalog: Catalog):
        self.core = r.RecoveryCore({s.name: group_recovery(s) for s in catalog.services})

    def _decision(self, actions: list[r.Action]) -> Decision:
        step, subtree, logs = None, None, []
        for action in actions:
            if isinstance(action, r.RestartResource):
                subtree = action.subtree
            elif isinstance(action, r.RestartGroup):
                step = Step.RESTART
            elif isinstance(action, r.Relocate):
                step = Step.RELOCATE
            elif isinstance(action, r.Disable):
                step = Step.DISABLE
            else:
                logs.append(action)
        return Decision(step, subtree, tuple(logs))

    def failed(self, service: str, resource: str, reason: str, subtree: str | None, now: int) -> Decision:
        """A status check (or a start) failed."""
        return self._decision(self.core.handle(r.CheckFailed(service, resource, reason, subtree), now))

    def restarting(self, service: str) -> bool:
        return service in self.core.busy

    def ended(self, service: str, ok: bool, now: int, subtree: str | None = None) -> Decision:
        """The restart (of the service or of one subtree) this policy asked for has ended."""
        reason = "" if ok else "the restart failed"
        return self._decision(self.core.handle(r.RecoveryDone(service, ok, reason, subtree), now))

    def left(self, service: str, now: int) -> None:
        """The service stopped here or moved away: a pending restart is forgotten (the counts stay)."""
        self.core.handle(r.GroupLeft(service), now)

    def counts(self, service: str, now: int) -> r.FailCount:
        return self.core.counts(service, now)
