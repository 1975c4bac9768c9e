"""The one table of ha.cf directives: how each value is read and what hbd does with it.

Every directive Heartbeat 3.0.6 knows is listed, so that any ha.cf Heartbeat accepts in haresources mode
is accepted here. `support` says what hbd does:

- `used`: hbd acts on it;
- `ignored`: checked like Heartbeat checks it, then ignored without a word, because it tunes a part of
  Heartbeat hbd does not have (compression, logd reconnects, Pacemaker-only switches, ...);
- `warning`: checked, ignored, and `hbd config check` says so, because the admin expects an effect
  (a serial link, a respawned ipfail);
- `error`: refused, because running without it would be unsafe (STONITH configured but not done).

`stonith_host` is used with fence agents in place of Heartbeat's STONITH plugins (doc/fencing.md).

`kind` names the value converter in hbd.config.hacf; `whole_line` directives take the rest of the line
as one value (Heartbeat's media plugins with a parse function and its WLdirectives); the others apply each
space-, tab- or comma-separated value in turn.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Support = Literal["used", "ignored", "warning", "error"]


@dataclass(frozen=True)
class DirectiveRule:
    kind: str
    support: Support = "used"
    note: str = ""  # the reason shown for `warning` and `error`
    whole_line: bool = False
    choices: tuple[str, ...] = ()
    low: int | None = None  # integer range for kind "int"
    high: int | None = None


def _ignored(kind: str, **kw: object) -> DirectiveRule:
    return DirectiveRule(kind, "ignored", **kw)  # type: ignore[arg-type]


DIRECTIVES: dict[str, DirectiveRule] = {
    # membership and media
    "node": DirectiveRule("node"),
    "keepalive": DirectiveRule("time"),
    "deadtime": DirectiveRule("time"),
    "warntime": DirectiveRule("time"),
    "initdead": DirectiveRule("time"),
    "deadping": DirectiveRule("time"),
    "udpport": DirectiveRule("port"),
    "bcast": DirectiveRule("bcast"),
    "mcast": DirectiveRule("mcast", whole_line=True),
    "mcast6": DirectiveRule("mcast6", whole_line=True),
    "ucast": DirectiveRule("ucast", whole_line=True),
    "ucast6": DirectiveRule("ucast6", whole_line=True),
    "ping": DirectiveRule("ping"),  # watched by the daemon (runtime/ping_monitor.py, doc/daemon.md)
    "ping_group": DirectiveRule("ping_group", whole_line=True),  # NAME HOST...: reachable if any answers
    "hopfudge": DirectiveRule("int", low=0, high=255),
    "autojoin": DirectiveRule("choice", choices=("none", "other", "any")),
    # resources
    "auto_failback": DirectiveRule("failback"),
    "nice_failback": DirectiveRule("nice_failback"),
    "crm": DirectiveRule("crm"),
    "pacemaker": DirectiveRule("crm"),
    # logging and process
    "logfile": DirectiveRule("word"),
    "debugfile": DirectiveRule("word"),
    "logfacility": DirectiveRule("facility"),
    "use_logd": DirectiveRule("bool"),
    "realtime": DirectiveRule("bool"),
    # hbd's own: accept crc-signed packets while auth is an HMAC (a rotation away from crc; threat-model.md)
    "accept_crc": DirectiveRule("bool"),
    # Heartbeat features hbd does not have, where the admin expects an effect
    "serial": DirectiveRule("word", "warning", "hbd has no serial media; this link is not used"),
    "ping6": DirectiveRule("word", "warning", "hbd does not watch IPv6 ping nodes"),
    "respawn": DirectiveRule(
        "line", "warning", "hbd does not run Heartbeat API clients such as ipfail", whole_line=True),
    "failfast": DirectiveRule(
        "line", "warning", "hbd does not run Heartbeat API clients; no reboot when it dies", whole_line=True),
    "apiauth": DirectiveRule("apiauth", "warning", "hbd has no Heartbeat API socket", whole_line=True),
    "watchdog": DirectiveRule("word"),  # hbd/runtime/watchdog_device.py
    "stonith": DirectiveRule(
        "line", "error",
        "hbd does not run Heartbeat STONITH plugins; starting without the fencing you configured would "
        "risk both nodes writing the shared disk", whole_line=True),
    # mapped onto fence-agents (hbd/fencing/from_hacf.py); a Heartbeat plugin name is refused there
    "stonith_host": DirectiveRule("stonith_host", whole_line=True),
    # hbd's own: how long a node that holds no groups waits before fencing (the holder fences first)
    "fence_delay": DirectiveRule("time"),
    # hbd's own: alert scripts run on cluster events, and their timeout (hbd/runtime/alerts.py)
    "alert": DirectiveRule("word"),
    "alert_timeout": DirectiveRule("time"),
    # hbd's own: a stop's timeout, its retries and what follows the last one (hbd/runtime/stop_escalation.py)
    "stop_timeout": DirectiveRule("time"),
    "stop_retries": DirectiveRule("int", low=0, high=100),
    "on_stop_failure": DirectiveRule("choice", choices=("block", "fence", "reboot")),
    # hbd's own: status checks of running resources and what a failed one does (hbd/config/monitoring.py)
    "monitor": DirectiveRule("monitor", whole_line=True),
    # hbd's own: watch the carrier of the VIP interfaces, move a group off a dead link (runtime/link_monitor.py)
    "link_monitor": DirectiveRule("bool"),
    # Heartbeat internals: checked, then ignored
    "baud": _ignored("choice", choices=("9600", "19200", "38400", "57600", "115200", "230400", "460800")),
    "debug": _ignored("int", low=0, high=255),
    "rtprio": _ignored("int", low=1, high=99),
    "hbgenmethod": _ignored("choice", choices=("file", "time")),
    "msgfmt": _ignored("choice", choices=("classic", "netstring")),
    "uuidfrom": _ignored("choice", choices=("file", "nodename")),
    "conn_logd_time": _ignored("time"),
    "coredumps": _ignored("bool"),
    "coreroot": _ignored("word"),
    "syslogmsgfmt": _ignored("bool"),
    "log_badpack": _ignored("bool"),
    "compression": _ignored("word"),
    "compression_threshold": _ignored("int", low=1),
    "traditional_compression": _ignored("bool"),
    "max_rexmit_delay": _ignored("int", low=1),
    "memreserve": _ignored("int", low=1),
    "env": _ignored("word"),
    "cluster": _ignored("word"),
    "quorum_server": _ignored("word"),
    "use_apphbd": _ignored("bool"),
    "crm_daemon_dir": _ignored("word"),
    "crmd_spawns_pengine": _ignored("bool"),
    "record_config_changes": _ignored("bool"),
    "record_pengine_inputs": _ignored("bool"),
    "enable_config_writes": _ignored("bool"),
}

# Directives whose repeated value replaces the earlier one (worth a warning: the first is silently lost).
SCALARS = frozenset(
    name for name, rule in DIRECTIVES.items()
    if rule.kind in ("time", "port", "int", "choice", "failback", "bool", "facility") or name in ("logfile", "debugfile")
)

# Heartbeat rewrites this old name with a warning.
ALIASES = {"udp": "bcast"}

SYSLOG_FACILITIES = frozenset(
    {"auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog", "user", "uucp", "none"}
    | {f"local{i}" for i in range(8)}
)

# `crm`/`pacemaker` values that leave resource management to haresources.
CRM_OFF = frozenset({"false", "off", "no", "n", "0"})
CRM_ON = frozenset({"true", "on", "yes", "y", "1", "respawn", "minimal", "manual", "ccm-only", "valgrind"})
