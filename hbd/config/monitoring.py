"""ha.cf `monitor`: how running haresources resources are checked and what a failed check does.

    monitor interval=10 timeout=20 max_restarts=2 window=600 recovery=restart
    monitor type=IPaddr2 interval=5 timeout=5        # only resources of this type (or class: lsb, ocf, heartbeat)
    monitor type=Filesystem interval=0               # 0: never checked

Times are Heartbeat times (a bare number is seconds; `500ms`). `max_restarts` (restarts in place within
`window` before the group is handed to the peer; 0: unlimited), `window` and `recovery` (`restart`: in
place first; `relocate`: straight to the peer) apply to every group and may only be given on a line
without `type=`. Later lines win. Without the directive: `DEFAULT_CHECKS` below and
hbd.core.recovery.HARESOURCES_DEFAULT (doc/monitoring.md). `hbd config check` and the daemon read the
directive with the same function, so they agree.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping

from hbd.config.model import HaCf
from hbd.config.units import parse_c_int, parse_msec
from hbd.core.recovery import HARESOURCES_DEFAULT, GroupRecovery, Recovery, RecoveryPolicy

TIMING_KEYS = ("interval", "timeout")
POLICY_KEYS = ("max_restarts", "window", "recovery")
RECOVERIES = ("restart", "relocate")  # haresources has no disabled state


@dataclass(frozen=True)
class CheckTiming:
    interval_ms: int  # 0: not checked
    timeout_ms: int
    depth: int = 0  # OCF_CHECK_LEVEL of the check (cluster.conf status actions; OCF agents only)


# Per agent type, then per class; the OCF class default yields to the agent's meta-data monitor action.
DEFAULT_CHECKS: Mapping[str, CheckTiming] = {
    "IPaddr2": CheckTiming(10_000, 5_000),  # address present on its interface and the link up
    "IPaddr": CheckTiming(10_000, 5_000),
    "Filesystem": CheckTiming(20_000, 10_000),  # mounted where it should be
    "drbddisk": CheckTiming(20_000, 10_000),  # this node is Primary
    "lsb": CheckTiming(10_000, 20_000),  # /etc/init.d/NAME status
    "heartbeat": CheckTiming(10_000, 20_000),  # resource.d/NAME status
    "ocf": CheckTiming(10_000, 20_000),  # monitor (meta-data's monitor action when it has one)
    "*": CheckTiming(10_000, 20_000),
}


@dataclass(frozen=True)
class MonitorSettings:
    checks: Mapping[str, CheckTiming] = field(default_factory=lambda: dict(DEFAULT_CHECKS))
    overridden: frozenset[str] = frozenset()  # scopes set in ha.cf (they win over agent meta-data)
    policy: RecoveryPolicy = HARESOURCES_DEFAULT

    def timing(self, agent_type: str, agent_class: str, meta: CheckTiming | None = None) -> CheckTiming:
        """The check of one resource: ha.cf for its type, else for its class, else without type; then the
        built-in default for its type, the agent's meta-data, the built-in default for its class."""
        for scope in (agent_type, agent_class, "*"):
            if scope in self.overridden:
                return self.checks[scope]
        if agent_type in self.checks:
            return self.checks[agent_type]
        if meta is not None:
            return meta
        return self.checks.get(agent_class, self.checks["*"])

    @property
    def recovery(self) -> GroupRecovery:
        return GroupRecovery(self.policy)


def _time(key: str, text: str) -> int:
    millis, note = parse_msec(text)
    if note:
        raise ValueError(f"{key}: {note}")
    return millis


def apply_line(settings: MonitorSettings, value: str) -> MonitorSettings:
    """One `monitor` line over `settings`; ValueError names what is wrong (the caller adds file and line)."""
    pairs: dict[str, str] = {}
    for word in value.split():
        key, sep, val = word.partition("=")
        if not sep or not val:
            raise ValueError(f"[{word}]: write KEY=VALUE (keys: type, {', '.join(TIMING_KEYS + POLICY_KEYS)})")
        if key not in ("type", *TIMING_KEYS, *POLICY_KEYS):
            raise ValueError(f"unknown key [{key}] (keys: type, {', '.join(TIMING_KEYS + POLICY_KEYS)})")
        if key in pairs:
            raise ValueError(f"{key} given twice on one line")
        pairs[key] = val
    if not pairs:
        raise ValueError("nothing set: write e.g. monitor interval=10 timeout=20 max_restarts=2 window=600")
    scope = pairs.pop("type", "*")
    if scope != "*" and set(pairs) & set(POLICY_KEYS):
        raise ValueError(f"{', '.join(sorted(set(pairs) & set(POLICY_KEYS)))}: for every group, not per type "
                         "(give it on a line without type=)")
    checks, overridden = dict(settings.checks), set(settings.overridden)
    if set(pairs) & set(TIMING_KEYS):
        # unset values: from the line without type if there was one, else the built-in default
        base = checks["*"] if "*" in overridden else checks.get(scope, checks["*"])
        interval = _time("interval", pairs["interval"]) if "interval" in pairs else base.interval_ms
        timeout = _time("timeout", pairs["timeout"]) if "timeout" in pairs else base.timeout_ms
        if interval and timeout <= 0:
            raise ValueError("timeout must be more than 0")
        if interval and interval < 1000:
            raise ValueError(f"interval {interval} ms: at least 1 s (or 0: not checked)")
        checks[scope] = CheckTiming(interval, timeout)
        overridden.add(scope)
    policy = settings.policy
    if "max_restarts" in pairs:
        number, note = parse_c_int(pairs["max_restarts"])
        if note or number < 0:
            raise ValueError(f"max_restarts [{pairs['max_restarts']}]: a whole number, 0 or more")
        policy = replace(policy, max_restarts=number)
    if "window" in pairs:
        policy = replace(policy, restart_expire_ms=_time("window", pairs["window"]))
    if "recovery" in pairs:
        if pairs["recovery"] not in RECOVERIES:
            raise ValueError(f"recovery [{pairs['recovery']}]: use one of {', '.join(RECOVERIES)}")
        policy = replace(policy, recovery=Recovery(pairs["recovery"]))
    return MonitorSettings(checks, frozenset(overridden), policy)


def settings_of(hacf: HaCf) -> MonitorSettings:
    """Every `monitor` line of ha.cf, in order (config check refused the file if one is wrong)."""
    settings = MonitorSettings()
    for directive in hacf.directives:
        if directive.name == "monitor":
            settings = apply_line(settings, directive.value)
    return settings
