"""rgmanager's built-in resource rules: parameters, actions, maxinstances and child types per agent type.

rgmanager reads these from each agent's `meta-data` output; hbd ships them as one compact table so that it
behaves the same without the agents installed. The table is data: one block per type, parsed once.

Block syntax (one type per block, blocks separated by a blank line):

    TYPE [max=N] [noinit] [nodestroy]
      params  NAME[FLAGS][=DEFAULT][<INHERIT] ...     FLAGS: P primary, U unique, Q required, R reconfig
      actions NAME:TIMEOUT[/INTERVAL[/DEPTH]] ...     times take s, m, h, d suffixes
      child   TYPE:START:STOP | TYPE! (forbidden) | TYPE (declared without levels) ...

`service` follows the 2009-era service.sh of the seed (with `hardrecovery` and a 1 h status action); the
other agents follow the newest rgmanager agent metadata.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

from hbd.config.model import ChildType

_TABLE = """
apache
  params  name[P] httpd server_root=/etc/httpd config_file=conf/httpd.conf httpd_options shutdown_wait service_name<service%name
  actions start:0 stop:0 status:10/1m monitor:10/1m status:30/5m/10 monitor:30/5m/10 meta-data:1 validate-all:1

bind-mount
  params  name[PU] mountpoint[UQ] source[Q] force_unmount
  actions start:5 stop:5 recover:5 status:5/1h monitor:5/1h meta-data:5 verify-all:30
  child   nfsexport! nfsclient

clusterfs
  params  name[P] mountpoint[UQ] device[UQ] fstype force_unmount self_fence fsid nfslock<service%nfslock nfsrestart options use_findmnt
  actions start:900 stop:30 status:10/1m monitor:10/1m status:30/5m/10 monitor:30/5m/10 status:30/10m/20 monitor:30/10m/20 meta-data:5 validate-all:5
  child   fs:1:3 clusterfs:1:3 nfsexport:3:1

drbd max=1
  params  name[PU] resource[UQ]
  actions start:20 stop:20 status:20/60/10 monitor:20/60/10 meta-data:20 verify-all:20

fs max=1
  params  name[P] mountpoint[UQ] device[UQ] fstype force_unmount quick_status self_fence nfslock<nfslock nfsrestart fsid force_fsck options use_findmnt
  actions start:900 stop:30 status:10/1m monitor:10/1m status:30/30/10 monitor:30/30/10 status:30/1m/20 monitor:30/1m/20 meta-data:5 validate-all:5
  child   fs:1:3 clusterfs:1:3 nfsexport:3:1

ip max=1
  params  address[PU] family monitor_link=1 nfslock<service%nfslock sleeptime disable_rdisc prefer_interface
  actions start:20 stop:20 status:10/20 monitor:10/20 status:20/60/10 monitor:20/60/10 meta-data:20 validate-all:20
  child   nfsclient! nfsexport!

lvm max=1
  params  name[P] vg_name[Q] lv_name self_fence nfslock<service%nfslock
  actions start:5 stop:5 status:5/1h monitor:5/1h meta-data:5 validate-all:30

mysql
  params  name[P] config_file=/etc/my.cnf listen_address mysqld_options startup_wait=30 shutdown_wait service_name<service%name
  actions start:0 stop:0 status:10/1m monitor:10/1m status:30/5m/10 monitor:30/5m/10 meta-data:0 validate-all:0

named
  params  name[P] config_file=/etc/named.conf named_sdb=0 named_working_dir=/var/named named_options update_source shutdown_wait=5 service_name<service%name
  actions start:0 stop:0 status:10/1m monitor:10/1m status:30/5m/10 monitor:30/5m/10 meta-data:0 validate-all:0

netfs
  params  name[P] mountpoint[UQ] host[Q] export[Q] fstype=nfs no_unmount force_unmount self_fence options use_findmnt
  actions start:900 stop:30 status:10/1m monitor:10/1m status:30/5m/10 monitor:30/5m/10 status:30/10m/20 monitor:30/10m/20 meta-data:5 validate-all:5
  child   nfsexport! nfsclient!

nfsclient
  params  name[PU] target[Q] path<path svcname<service%name fsid<fsid options allow_recover service_name<service%name use_cache<service%nfs_client_cache
  actions start:90 stop:5 recover:90 status:5/1m monitor:5/1m meta-data:5 validate-all:30

nfsexport
  params  name[P] device<device path<mountpoint fsid<fsid
  actions start:5 stop:5 recover:5 status:5/1h monitor:5/1h meta-data:5 validate-all:30
  child   nfsexport! nfsclient

nfsserver max=1
  params  name[P] path<mountpoint nfspath=.clumanager/nfs statdport= krbhost
  actions start:5 stop:5 recover:5 status:5/30 monitor:5/30 meta-data:5 validate-all:30
  child   nfsexport! nfsserver! nfsclient:1:2 ip:2:1

openldap
  params  name[P] config_file=/etc/openldap/slapd.conf url_list=ldap:/// slapd_options shutdown_wait service_name<service%name
  actions start:0 stop:0 status:10/1m monitor:10/1m status:30/5m/10 monitor:30/5m/10 meta-data:0 validate-all:0

oracledb max=1
  params  name[P] listener_name[U] user[Q] home[Q] type vhost[U] tns_admin[U]
  actions start:900 stop:90 recover:990 status:10 monitor:10 status:30/30/10 monitor:30/30/10 meta-data:5 validate-all:5

postgres-8
  params  name[P] config_file=/var/lib/pgsql/data/postgresql.conf postmaster_user=postgres postmaster_options=-D%20/var/lib/pgsql/data startup_wait=10 service_name<service%name
  actions start:30 stop:30 status:10/1m monitor:10/1m status:30/5m/10 monitor:30/5m/10 meta-data:0 validate-all:0

samba
  params  name[PU] config_file=/etc/samba/smb.conf smbd_options nmbd_options shutdown_wait service_name<service%name
  actions start:0 stop:0 status:0/30s monitor:0/30s meta-data:0 validate-all:0

script
  params  name[PU] file[UQ] service_name<service%name
  actions start:0 stop:0 status:0/30s monitor:0/30s meta-data:0 validate-all:0

service max=1
  params  name[PUQ] domain[R] autostart[R]=1 hardrecovery=0 exclusive[R]=0 nfslock=0 nfs_client_cache=0 recovery[R]=restart depend depend_mode=hard max_restarts=0 restart_expire_time=0 priority=0
  actions start:5 stop:5 status:5/1h monitor:5/1h reconfig:5 recover:5 reload:5 meta-data:5 validate-all:5
  child   lvm:1:9 fs:2:8 clusterfs:3:7 netfs:4:6 nfsexport:5:5 nfsclient:6:4 ip:7:2 smb:8:3 script:9:1

smb
  params  name[PU] workgroup=LINUXCLUSTER service_name<service%name
  actions start:0 stop:0 status:0/30s monitor:0/30s meta-data:0 validate-all:0

tomcat-5
  params  name[P] config_file=/etc/tomcat5/tomcat5.conf tomcat_user=tomcat catalina_options catalina_base=/usr/share/tomcat5 shutdown_wait=30 service_name<service%name
  actions start:0 stop:0 status:10/1m monitor:10/1m status:30/5m/10 monitor:30/5m/10 meta-data:0 validate-all:0

tomcat-6
  params  name[P] config_file=/etc/tomcat6/tomcat6.conf shutdown_wait=30 service_name<service%name
  actions start:0 stop:0 status:10/1m monitor:10/1m status:30/5m/10 monitor:30/5m/10 meta-data:0 validate-all:0

vm max=1 noinit nodestroy
  params  name[P] domain[R] autostart[R]=1 exclusive[R]=0 recovery[R] migration_mapping[R] use_virsh= xmlfile migrate=live migrate_options tunnelled= path snapshot= depend depend_mode=hard max_restarts[R]=0 restart_expire_time[R]=0 status_program[R]= hypervisor=auto hypervisor_uri=auto migration_uri=auto no_kill=false
  actions start:300 stop:120 status:10/30 monitor:10/30 status:20/60/10 monitor:20/60/10 reconfig:10 migrate:10m meta-data:5 validate-all:5
"""

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


@dataclass(frozen=True)
class Param:
    name: str
    primary: bool = False
    unique: bool = False
    required: bool = False
    reconfig: bool = False
    inherit: str | None = None  # "type%attr" (nearest ancestor of that type) or "attr" (immediate parent)
    default: str | None = None


@dataclass(frozen=True)
class Action:
    name: str
    timeout: int  # seconds; a hint unless the node enforces timeouts
    interval: int  # seconds; 0 = never polled
    depth: int


@dataclass(frozen=True)
class Rule:
    type: str
    params: tuple[Param, ...]
    actions: tuple[Action, ...]
    children: tuple[ChildType, ...]
    maxinstances: int = 0  # 0 = unlimited
    init_on_add: bool = True
    destroy_on_delete: bool = True

    @property
    def agent(self) -> str:
        return f"{self.type}.sh"

    @cached_property
    def _by_name(self) -> dict[str, Param]:
        return {p.name: p for p in self.params}

    def param(self, name: str) -> Param | None:
        return self._by_name.get(name)

    @cached_property
    def primary(self) -> Param | None:
        return next((p for p in self.params if p.primary), None)

    def has_action(self, name: str, depth: int = 0) -> bool:
        return any(a.name == name and a.depth == depth for a in self.actions)


def expand_time(text: str) -> int:
    """`30`, `30s`, `1m`, `1h` ... -> seconds, like rgmanager's expand_time."""
    match = re.fullmatch(r"(\d+)([smhdwy]?)", text.strip())
    if match is None:
        raise ValueError(f"bad time value {text!r}")
    return int(match.group(1)) * _UNITS.get(match.group(2) or "s", 1)


_PARAM = re.compile(r"(?P<name>[\w-]+)(?:\[(?P<flags>[PUQR]+)\])?(?:=(?P<default>[^<\s]*))?(?:<(?P<inherit>\S+))?")


@dataclass(frozen=True)
class ActionOverride:
    """A per-resource `<action name= depth= interval= timeout=/>`; None = not given, depth None = every depth."""

    name: str
    depth: int | None
    timeout: int | None
    interval: int | None


def apply_overrides(actions: tuple[Action, ...], overrides: list[ActionOverride]) -> tuple[tuple[Action, ...], list[str]]:
    """rgmanager's store_action: change matching actions in place, else add a fully given new one.

    Returns the effective actions and rgmanager's `Replacing action ...` notes.
    """
    result = list(actions)
    notes: list[str] = []
    for o in overrides:
        hits = [i for i, a in enumerate(result) if a.name == o.name and (o.depth is None or a.depth == o.depth)]
        for i in hits:
            old = result[i]
            parts = []
            if o.timeout is not None:
                parts.append(f"timeout: {old.timeout}->{o.timeout} ")
            if o.interval is not None:
                parts.append(f"interval: {old.interval}->{o.interval}")
            notes.append(f"Replacing action '{o.name}' depth {old.depth}: {''.join(parts)}")
            result[i] = Action(old.name, old.timeout if o.timeout is None else o.timeout,
                               old.interval if o.interval is None else o.interval, old.depth)
        if not hits and None not in (o.depth, o.timeout, o.interval):
            result.append(Action(o.name, o.timeout, o.interval, o.depth))  # type: ignore[arg-type]
    return tuple(result), notes


def _param(token: str) -> Param:
    m = _PARAM.fullmatch(token)
    if m is None:
        raise ValueError(f"bad parameter spec {token!r}")
    flags = m.group("flags") or ""
    default = m.group("default")
    return Param(
        m.group("name"), "P" in flags, "U" in flags, "Q" in flags, "R" in flags,
        m.group("inherit"), None if default is None else default.replace("%20", " "),
    )


def _action(token: str) -> Action:
    name, _, times = token.partition(":")
    parts = times.split("/")
    interval = expand_time(parts[1]) if len(parts) > 1 else 0
    depth = int(parts[2]) if len(parts) > 2 else 0
    return Action(name, expand_time(parts[0]), interval, depth)


def _child(token: str) -> ChildType:
    if token.endswith("!"):
        return ChildType(token[:-1], forbid=True)
    name, *levels = token.split(":")
    start, stop = (int(levels[0]), int(levels[1])) if levels else (0, 0)
    return ChildType(name, start, stop)


def _rule(block: str) -> Rule:
    head, *lines = block.strip().splitlines()
    rtype, *opts = head.split()
    fields: dict[str, list[str]] = {}
    for line in lines:
        key, *values = line.split()
        fields[key] = values
    maxinst = next((int(o[4:]) for o in opts if o.startswith("max=")), 0)
    return Rule(
        rtype,
        tuple(_param(t) for t in fields.get("params", [])),
        tuple(_action(t) for t in fields.get("actions", [])),
        tuple(_child(t) for t in fields.get("child", [])),
        maxinst, "noinit" not in opts, "nodestroy" not in opts,
    )


@lru_cache(maxsize=1)
def builtin_rules() -> dict[str, Rule]:
    """All rules by type, in rgmanager's order (alphabetical, case-insensitive)."""
    rules = [_rule(b) for b in _TABLE.strip().split("\n\n")]
    return {r.type: r for r in sorted(rules, key=lambda r: r.type.lower())}


def rule_for(element_name: str, rules: dict[str, Rule] | None = None) -> Rule | None:
    """The rule for an element name; rgmanager matches names case-insensitively."""
    table = builtin_rules() if rules is None else rules
    found = table.get(element_name)
    if found is not None:
        return found
    lower = element_name.lower()
    return next((r for t, r in table.items() if t.lower() == lower), None)


def child_type_table(rules: dict[str, Rule] | None = None) -> dict[str, tuple[ChildType, ...]]:
    """type -> declared child types, the input of hbd.core.ordering."""
    table = builtin_rules() if rules is None else rules
    return {t: r.children for t, r in table.items()}
