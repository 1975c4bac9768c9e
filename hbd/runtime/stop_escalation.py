"""Carrying out what the core decided after a stop that failed for good (doc/daemon.md "Stop escalation").

The steps before are elsewhere: the executor (hbd/agents/executor.py) runs each stop within its timeout,
verifies it with status and forces a failed one once (Filesystem: kills the holders); the core
(hbd/core/ownership.py) retries the group's stop `stop_retries` times and then marks the group FAILED
(held: the peer never starts it, it is never reported as stopped) and emits
`StopFailedForGood(key, escalation)`, a typed `StopEscalation` from ha.cf's `on_stop_failure`. This module
only does what that value says, announcing it first with a greppable `stop escalation:` line (and the alert
runner, hbd/runtime/alerts.py, sees the action): never a silent success, never an unannounced reboot.
- block: nothing more; the group stays blocked here until the admin has stopped it by hand and restarts hbd.
- fence: this node is fenced with the fence plan its own `stonith_host` lines give for itself (the device
  acts from outside the node, e.g. a power switch); without one the group stays blocked, said in the log.
- reboot: `reboot -f`, after the CRIT line.
"""
from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from typing import Callable

from hbd.config.model import HaCf
from hbd.config.units import parse_msec
from hbd.core.ownership_types import StopEscalation
from hbd.fencing.execute import fence
from hbd.fencing.from_hacf import peer_fencing
from hbd.runtime.logsetup import log_hb

LOG = logging.getLogger("hbd.resources")
REBOOT_ARGV = ("reboot", "-f")
DEFAULT_STOP_RETRIES = 10


@dataclass(frozen=True)
class StopSettings:
    """ha.cf `on_stop_failure`, `stop_retries`, `stop_timeout` (the last one of each wins)."""

    escalation: StopEscalation = StopEscalation.BLOCK
    retries: int = DEFAULT_STOP_RETRIES
    timeout_s: float | None = None  # None: each agent's default (60 s)


def settings_of(hacf: HaCf) -> StopSettings:
    found: dict[str, str] = {d.name: d.value for d in hacf.directives
                             if d.name in ("on_stop_failure", "stop_retries", "stop_timeout")}
    timeout = found.get("stop_timeout")
    return StopSettings(StopEscalation(found.get("on_stop_failure", StopEscalation.BLOCK.value)),
                        int(found.get("stop_retries", DEFAULT_STOP_RETRIES)),
                        parse_msec(timeout)[0] / 1000 if timeout else None)


def self_fencer(hacf: HaCf) -> Callable[[], str] | None:
    """Fences this node with its own fence plan and says how it went; None when there is no plan for it."""
    plan = peer_fencing(hacf, hacf.local_node).plan
    if not plan.methods:
        return None
    return lambda: fence(plan, "reboot").describe()


class Escalator:
    def __init__(self, *, reboot_requested: bool = False, self_fence: Callable[[], str] | None = None,
                 submit: Callable[[Callable[[], object]], object] = lambda work: work(),
                 reboot: Callable[[], object] = lambda: subprocess.run(REBOOT_ARGV, check=False)):
        self.reboot_requested = reboot_requested  # the older `--on-stop-failure reboot` option
        self.self_fence = self_fence
        self.submit = submit  # to a worker thread: fencing and rebooting block
        self.reboot = reboot

    def carry_out(self, key: str, escalation: StopEscalation) -> StopEscalation:
        """Announce and do the escalation; returns what was done (fence without a plan: block)."""
        if escalation is StopEscalation.BLOCK and self.reboot_requested:
            escalation = StopEscalation.REBOOT
        if escalation is StopEscalation.FENCE and self.self_fence is None:
            log_hb(LOG, "CRIT", f"stop escalation: group {key}: on_stop_failure fence, but no stonith_host line "
                                "fences this node: blocked instead")
            escalation = StopEscalation.BLOCK
        if escalation is StopEscalation.BLOCK:
            log_hb(LOG, "CRIT", f"stop escalation: group {key}: blocked (FAILED, held here so that the peer "
                                "never starts it); manual intervention required: stop it by hand, then "
                                "restart hbd")
        elif escalation is StopEscalation.FENCE:
            fencer = self.self_fence
            assert fencer is not None
            log_hb(LOG, "CRIT", f"stop escalation: group {key}: fencing this node now (on_stop_failure fence)")
            self.submit(lambda: log_hb(LOG, "CRIT", f"stop escalation: self-fence: {fencer()}"))
        else:
            log_hb(LOG, "CRIT", f"stop escalation: group {key}: rebooting this node now (on_stop_failure reboot). "
                                "Resource STOP failure. Reboot required!")
            self.submit(self.reboot)
        return escalation
