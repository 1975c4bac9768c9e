"""`hbd reload` and SIGHUP: read the new configuration, check it as `hbd config check` does, and decide from
the difference of the running and the new models (hbd/config/reload_diff.py) what the daemon does.

Nothing is applied here; the daemon carries out the decision (`Reload`): re-execute itself keeping its
resources, or take the live changes (authkeys, alert scripts) in place, or nothing at all when the new
configuration is unusable or a change cannot be applied now. Every outcome is logged here with the words
Heartbeat's operators grep for ("Configuration unchanged.", "authkeys re-read.").
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from hbd.config import LoadedConfig, load, reload_diff, runnable
from hbd.config.model import HeartbeatConfig
from hbd.errors import ConfigError, HbdError, Problem
from hbd.runtime.control_messages import ReloadOutcome, ReloadReply
from hbd.runtime.logsetup import log_hb

LOG = logging.getLogger("hbd.daemon")  # the daemon's logger: the lines are the daemon's, wherever decided


def check_runnable(cfg: LoadedConfig) -> list[Problem]:
    """The refusals `hbd config check` shows too (hbd.config.runnable): raise on an error; return warnings."""
    found = runnable.check(cfg, on_node=True)
    if any(p.severity == "error" for p in found):
        raise ConfigError(found)
    return found


@dataclass(frozen=True)
class Reload:
    """What the daemon does about one reload request, and the answer to give."""

    reply: ReloadReply
    restart: bool = False  # re-execute, keeping the resources
    live: LoadedConfig | None = None  # the new configuration to run in place (its live changes applied)
    plan: reload_diff.ReloadPlan | None = None

    def applies(self, area: reload_diff.Area) -> bool:
        return self.plan is not None and bool(self.plan.of(area))


def prepare(config_dir: Path, node: str | None, running: HeartbeatConfig, held: frozenset[str],
            in_flux: bool) -> Reload:
    """Load and check the configuration in `config_dir`, and compare it with the `running` one; `held`: the
    groups held here, `in_flux`: a group operation or hand-over is under way (no restart now)."""
    try:
        new = load(config_dir, node)
        check_runnable(new)
    except ConfigError as exc:
        for problem in exc.problems:
            log_hb(LOG, "ERROR", str(problem))
        problems = "\n".join(str(p) for p in exc.problems)
        return _not_applied(ReloadReply(ReloadOutcome.UNUSABLE, "the new configuration is not valid; still "
                                        f"running the old one:\n{problems}"))
    except HbdError as exc:
        log_hb(LOG, "ERROR", str(exc))
        return _not_applied(ReloadReply(ReloadOutcome.UNUSABLE, f"{exc}; still running the old configuration"))
    assert new.heartbeat is not None
    plan = reload_diff.diff(running, new.heartbeat, held)
    changes = tuple(str(c) for c in plan.changes)
    if plan.unchanged:
        log_hb(LOG, "info", "Configuration unchanged.")
        return Reload(ReloadReply(ReloadOutcome.APPLIED, "Configuration unchanged."))
    if plan.refused:
        for change in plan.refused:
            log_hb(LOG, "ERROR", f"reload refused: {change}")
        refused = "\n".join(f"  {c}" for c in plan.refused)
        return _not_applied(ReloadReply(ReloadOutcome.REFUSED, f"reload refused, nothing changed:\n{refused}",
                                        changes))
    if plan.needs_restart and in_flux:
        return _not_applied(ReloadReply(ReloadOutcome.BUSY, "a resource operation is in progress: reload again "
                                        "when it has finished", changes))
    if plan.needs_restart:
        log_hb(LOG, "info", f"Configuration changed ({'; '.join(changes)}): restarting, keeping resources.")
        return Reload(ReloadReply(ReloadOutcome.APPLIED, f"configuration changed ({'; '.join(changes)}): hbd "
                                  "restarts and keeps its resources", changes), restart=True, plan=plan)
    text = "authkeys re-read." if changes == ("authkeys: keys re-read",) else f"applied live: {'; '.join(changes)}"
    return Reload(ReloadReply(ReloadOutcome.APPLIED, text, changes), live=new, plan=plan)


def _not_applied(reply: ReloadReply) -> Reload:
    log_hb(LOG, "WARN", f"reload {reply.outcome.value}: still running the old configuration")
    return Reload(reply)
