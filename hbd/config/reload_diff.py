"""What `hbd reload` would change: the difference of the running and the new configuration models.

Pure (no files, no daemon): `diff(old, new, held)` compares the two HeartbeatConfig models field by field,
not the files' bytes, so a comment or a reordered directive changes nothing, and says for each change how it
is applied:
- LIVE: taken over by the running daemon at once (authkeys, alert scripts and their timeout);
- RESTART: applied by the daemon re-executing itself while every resource keeps running (timing, media,
  nodes, ping nodes, logging, groups added, groups not running here that changed or went away): the new
  daemon probes what runs, finds its groups and starts what the new configuration gives it;
- REFUSED: cannot be applied without acting on resources first; the whole reload is refused, nothing changes
  (a group running here that changed or was removed: its resources run as the old definition says, and
  neither daemon would stop them as the new one says; the local node's name).
A reload is applied only if no change is REFUSED (all or nothing, like a config check).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, fields, replace

from hbd.config.model import HaCf, HaGroup, HeartbeatConfig, Medium

LIVE_DIRECTIVES = frozenset({"alert", "alert_timeout"})  # read by the alert runner, replaced live
# directives parsed into HaCf's fields, compared there (the others are compared as written)
PARSED_DIRECTIVES = frozenset({
    "node", "keepalive", "deadtime", "warntime", "initdead", "deadping", "udpport", "udp", "bcast", "mcast",
    "mcast6", "ucast", "auto_failback", "nice_failback", "ping", "ping_group", "logfile", "debugfile",
    "logfacility", "use_logd", "realtime", "hopfudge",
})


class Apply(enum.Enum):
    LIVE = "live"
    RESTART = "restart"  # the daemon re-executes itself, resources keep running
    REFUSED = "refused"


class Area(enum.Enum):
    AUTHKEYS = "authkeys"
    ALERTS = "alerts"
    TIMING = "timing"
    MEDIA = "media"
    NODES = "nodes"
    PING = "ping nodes"
    LOGGING = "logging"
    OPTIONS = "options"  # the other ha.cf settings (auto_failback, realtime, ...)
    GROUP_ADDED = "group added"
    GROUP_REMOVED = "group removed"
    GROUP_CHANGED = "group changed"


@dataclass(frozen=True)
class Change:
    area: Area
    what: str  # for the operator: the setting or group, old -> new
    apply: Apply

    def __str__(self) -> str:
        return f"{self.area.value}: {self.what}"


@dataclass(frozen=True)
class ReloadPlan:
    changes: tuple[Change, ...]

    @property
    def unchanged(self) -> bool:
        return not self.changes

    @property
    def refused(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.apply is Apply.REFUSED)

    @property
    def needs_restart(self) -> bool:
        return any(c.apply is Apply.RESTART for c in self.changes)

    def of(self, area: Area) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.area is area)


_TIMING, _MEDIA, _NODES = ("timing",), ("media", "udpport"), ("nodes",)
_PING = ("ping_nodes", "ping_groups")
_LOGGING = ("logfile", "debugfile", "logfacility", "use_logd")
_NOT_COMPARED = frozenset({"path", "directives", "local_node"})  # directives: compared one by one below


def diff(old: HeartbeatConfig, new: HeartbeatConfig, held: frozenset[str]) -> ReloadPlan:
    """Every difference between the running (`old`) and the new model; `held`: groups running here."""
    out: list[Change] = []
    if old.authkeys.active != new.authkeys.active or old.authkeys.keys != new.authkeys.keys \
            or old.authkeys.accept_crc != new.authkeys.accept_crc:
        out.append(Change(Area.AUTHKEYS, "keys re-read", Apply.LIVE))
    out += _hacf(old.hacf, new.hacf)
    out += _groups(old.groups, new.groups, held)
    return ReloadPlan(tuple(out))


def _hacf(old: HaCf, new: HaCf) -> list[Change]:
    out: list[Change] = []
    if old.local_node.lower() != new.local_node.lower():
        out.append(Change(Area.NODES, f"this node's name {old.local_node} -> {new.local_node} (stop hbd, "
                                      "then start it)", Apply.REFUSED))
    areas = [(_TIMING, Area.TIMING), (_MEDIA, Area.MEDIA), (_NODES, Area.NODES), (_PING, Area.PING),
             (_LOGGING, Area.LOGGING)]
    seen = set(_NOT_COMPARED)
    for names, area in areas:
        seen.update(names)
        for name in names:
            a, b = _comparable(getattr(old, name)), _comparable(getattr(new, name))
            if a != b:
                out.append(Change(area, f"{name} {_show(a)} -> {_show(b)}", Apply.RESTART))
    for f in fields(HaCf):
        if f.name not in seen and getattr(old, f.name) != getattr(new, f.name):
            out.append(Change(Area.OPTIONS, f"{f.name} {_show(getattr(old, f.name))} -> "
                                            f"{_show(getattr(new, f.name))}", Apply.RESTART))
    old_live, new_live = _directives(old, LIVE_DIRECTIVES), _directives(new, LIVE_DIRECTIVES)
    if old_live != new_live:
        out.append(Change(Area.ALERTS, "alert scripts or alert_timeout", Apply.LIVE))
    old_rest, new_rest = _directives(old, None), _directives(new, None)
    for name in sorted({n for n, _ in old_rest} | {n for n, _ in new_rest}):
        a = [v for n, v in old_rest if n == name]
        b = [v for n, v in new_rest if n == name]
        if a != b:
            out.append(Change(Area.OPTIONS, f"{name} {' '.join(a) or '(unset)'} -> {' '.join(b) or '(unset)'}",
                              Apply.RESTART))
    return out


def _directives(hacf: HaCf, only: frozenset[str] | None) -> list[tuple[str, str]]:
    """Directives kept as text (not parsed into fields), in file order, without their line numbers."""
    return [(d.name, d.value) for d in hacf.directives
            if (d.name in only if only is not None else d.name not in LIVE_DIRECTIVES | PARSED_DIRECTIVES)]


def _groups(old: tuple[HaGroup, ...], new: tuple[HaGroup, ...], held: frozenset[str]) -> list[Change]:
    before, after = {g.key: g for g in old}, {g.key: g for g in new}
    out: list[Change] = []
    for key, group in before.items():
        if key not in after:
            if key in held:
                out.append(Change(Area.GROUP_REMOVED, f"{key} runs here: stop it first (hbd standby, or stop "
                                                      "hbd), then reload", Apply.REFUSED))
            else:
                out.append(Change(Area.GROUP_REMOVED, key, Apply.RESTART))
    for key, group in after.items():
        was = before.get(key)
        if was is None:
            out.append(Change(Area.GROUP_ADDED, f"{key} (preferred {group.node})", Apply.RESTART))
        elif _definition(was) != _definition(group):
            if key in held and was.resources != group.resources:
                out.append(Change(Area.GROUP_CHANGED, f"{key} runs here with the old resources: move or stop "
                                                      "it first (hbd standby), then reload", Apply.REFUSED))
            else:
                what = "preferred node" if was.resources == group.resources else "resources"
                out.append(Change(Area.GROUP_CHANGED, f"{key}: {what}", Apply.RESTART))
    if [k for k in before if k in after] != [k for k in after if k in before]:
        out.append(Change(Area.GROUP_CHANGED, "order of groups", Apply.RESTART))
    return out


def _definition(group: HaGroup) -> tuple[object, ...]:
    """What a group is, without where it is written (file, line, position)."""
    return group.node, tuple((r.agent, r.args) for r in group.resources)


def _comparable(value: object) -> object:
    """Media without the line they are written on: moving a line changes nothing."""
    if isinstance(value, tuple):
        return tuple(replace(v, line=None) if isinstance(v, Medium) else v for v in value)
    return value


def _show(value: object) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)
