"""One hbd resource -> one Pacemaker primitive (or the DRBD resource name, which becomes a promotable clone).

Monitors: cluster.conf resources get rgmanager's own status interval for the type (the lightest depth, as
rgmanager polls it); haresources never monitored (Heartbeat v1 does not), so they get `--monitor` seconds,
Pacemaker's usual practice, unless it is 0.
"""
from __future__ import annotations

import ipaddress
import posixpath
from dataclasses import dataclass

from hbd.agents.ipaddr_spec import IpSpec, parse_cluster_attrs, parse_heartbeat
from hbd.config.model import HaResource, ResourceNode
from hbd.config.rules import rule_for
from hbd.convert.model import Op, Pairs, Primitive
from hbd.errors import AgentError, HbdError

START_TIMEOUT_S = 60
# rgmanager types with a resource-agents equivalent: (ocf type, {rgmanager attr: ocf param}).
OCF_EQUIVALENTS: dict[str, tuple[str, dict[str, str]]] = {
    "apache": ("apache", {"config_file": "configfile", "httpd": "httpd"}),
    "mysql": ("mysql", {"config_file": "config", "listen_address": "socket"}),
    "postgres-8": ("pgsql", {"config_file": "config", "postmaster_user": "pgdba"}),
    "nfsserver": ("nfsserver", {}),
    "lvm": ("LVM-activate", {"vg_name": "vgname", "lv_name": "lvname"}),
    "named": ("named", {"config_file": "named_config"}),
    "samba": ("smb-share", {}),
    "tomcat-6": ("tomcat", {"catalina_home": "catalina_home"}),
}


class ConvertError(HbdError):
    """A resource cannot be expressed in Pacemaker's terms."""


@dataclass(frozen=True)
class DrbdResource:
    """drbddisk::r0 / <drbd resource="r0">: becomes ocf:linbit:drbd in a promotable clone."""

    resource: str
    source: str


def _ip_params(spec: IpSpec) -> Pairs:
    out: list[tuple[str, str]] = [("ip", str(spec.address))]
    if spec.prefix is not None:
        out.append(("cidr_netmask", str(spec.prefix)))
    if spec.iface:
        out.append(("nic", spec.iface))
    if spec.label:  # IPaddr2 appends iflabel to the interface name: eth1:0 is nic=eth1 iflabel=0
        out.append(("iflabel", spec.label.split(":", 1)[-1]))
    if spec.broadcast is not None:
        out.append(("broadcast", str(spec.broadcast)))
    return tuple(out)


def _monitor(interval_s: int, timeout_s: int) -> tuple[Op, ...]:
    return (Op("monitor", interval_s, timeout_s),) if interval_s > 0 else ()


def from_haresource(res: HaResource, rid: str, monitor_s: int) -> Primitive | DrbdResource:
    mon = _monitor(monitor_s, max(20, monitor_s))
    try:
        if res.agent in ("IPaddr2", "IPaddr"):
            spec = parse_heartbeat(res.args[0] if res.args else "")
            return Primitive(rid, "ocf", res.agent, "heartbeat", _ip_params(spec), mon, source=res.text)
    except AgentError as exc:
        raise ConvertError(f"{res.text}: {exc}") from None
    if res.agent == "drbddisk":
        return DrbdResource(res.args[0] if res.args else "all", res.text)
    if res.agent == "Filesystem":
        if len(res.args) < 2:
            raise ConvertError(f"{res.text}: Filesystem needs device::directory[::fstype[::options]]")
        names = ("device", "directory", "fstype", "options")
        params = tuple((n, v) for n, v in zip(names, res.args) if v)
        return Primitive(rid, "ocf", "Filesystem", "heartbeat", params, mon, source=res.text)
    if res.args:
        # Pacemaker 2 has no class for Heartbeat's resource.d scripts with arguments; OCF agents take named
        # parameters instead. Keep the arguments as parameters of an lsb resource? LSB takes none: refuse.
        raise ConvertError(f"{res.text}: a resource.d script with arguments has no Pacemaker 2 class "
                           "(write an OCF agent or an LSB script without arguments)")
    return Primitive(rid, "lsb", res.agent, None, (), mon, source=res.text)


def _status_interval(rtype: str) -> tuple[int, int]:
    """rgmanager's polling of the type: the depth-0 status action (interval, timeout), or (0, 0)."""
    rule = rule_for(rtype)
    if rule is None:
        return 0, 0
    polled = [a for a in rule.actions if a.name == "status" and a.interval > 0]
    if not polled:
        return 0, 0
    lightest = min(polled, key=lambda a: (a.depth, a.interval))
    return lightest.interval, max(lightest.timeout, 20)


def from_cluster_node(node: ResourceNode, rid: str) -> Primitive | DrbdResource | None:
    """One cluster.conf resource element; None for a container (`service`) whose children carry the work."""
    attrs = dict(node.attrs)
    if node.type == "service":
        return None
    interval, timeout = _status_interval(node.type)
    mon = _monitor(interval, timeout)
    source = f"<{node.type} {node.primary}>"
    if node.type == "ip":
        try:
            spec = parse_cluster_attrs(attrs)
        except AgentError as exc:
            raise ConvertError(f"{source}: {exc}") from None
        params = _ip_params(spec)
        if attrs.get("monitor_link") not in (None, "0"):
            source += " (monitor_link: Pacemaker's IPaddr2 monitor checks the address, ethmonitor the link)"
        agent = "IPaddr2" if isinstance(spec.address, ipaddress.IPv4Address) else "IPv6addr"
        if agent == "IPv6addr":
            params = (("ipv6addr", str(spec.address)),) + tuple(p for p in params if p[0] == "nic")
        return Primitive(rid, "ocf", agent, "heartbeat", params, mon, source=source)
    if node.type == "drbd":
        return DrbdResource(attrs.get("resource") or node.primary, source)
    if node.type in ("fs", "clusterfs", "netfs"):
        params = tuple((k, v) for k, v in (("device", attrs.get("device")), ("directory", attrs.get("mountpoint")),
                                           ("fstype", attrs.get("fstype")), ("options", attrs.get("options")))
                       if v)
        return Primitive(rid, "ocf", "Filesystem", "heartbeat", params, mon, source=source)
    if node.type == "script":
        path = attrs.get("file") or ""
        if posixpath.dirname(path) != "/etc/init.d":
            source += f" (Pacemaker's lsb class runs /etc/init.d/NAME: link {path} there)"
        return Primitive(rid, "lsb", posixpath.basename(path) or node.primary, None, (), mon, source=source)
    if node.type in OCF_EQUIVALENTS:
        ocf_type, names = OCF_EQUIVALENTS[node.type]
        params = tuple((names[k], v) for k, v in attrs.items() if k in names and v)
        return Primitive(rid, "ocf", ocf_type, "heartbeat", params, mon,
                         source=source + f" (check the parameters of ocf:heartbeat:{ocf_type})")
    raise ConvertError(f"{source}: rgmanager's {node.type} agent has no Pacemaker equivalent hbd knows")


def drbd_primitive(drbd: DrbdResource, rid: str) -> Primitive:
    """linbit's agent, monitored in both roles at different intervals (Pacemaker needs them distinct)."""
    return Primitive(rid, "ocf", "drbd", "linbit", (("drbd_resource", drbd.resource),),
                     (Op("monitor", 29, 20, "Promoted"), Op("monitor", 31, 20, "Unpromoted")), source=drbd.source)
