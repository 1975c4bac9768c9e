"""A loaded hbd configuration -> the Pacemaker model (model.py).

- haresources: each line is a group preferring its node (location score 100); auto_failback on means no
  stickiness (groups go home), off means stickiness 200 (they stay where they run).
- cluster.conf: each top-level service is a group of its resources in rgmanager's start order (nested
  services flattened); a failover domain gives location constraints (ordered: higher score for a lower
  priority number; restricted: -INFINITY elsewhere; nofailback: stickiness); autostart="0" -> stopped.
- DRBD (drbddisk or <drbd>): a promotable ocf:linbit:drbd clone, the group colocated with its Promoted role
  and started after the promotion.
- Fencing (cluster.conf <fence> methods, ha.cf stonith_host): stonith resources with pcmk_host_list, kept off
  the node they fence, and a fencing level per method; without fencing, stonith-enabled=false and a note.
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from hbd.config import LoadedConfig
from hbd.config.model import HeartbeatConfig
from hbd.config.rules import child_type_table
from hbd.convert.agents import ConvertError, DrbdResource, drbd_primitive, from_cluster_node, from_haresource
from hbd.convert.model import INFINITY, Cluster, Colocation, FencingLevel, Group, Location, Op, Order, Primitive, Promotable
from hbd.core.ordering import start_plan

STONITH_MONITOR_S, STONITH_TIMEOUT_S = 60, 20  # pcs's default monitor interval for stonith devices

PREFERRED_SCORE = "100"
STICKY = "200"
_BAD_ID = re.compile(r"[^A-Za-z0-9_.-]+")


class Ids:
    """XML ids from names: letters, digits, `_.-`, starting with a letter; unique (a suffix when taken)."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def __call__(self, *parts: str) -> str:
        base = _BAD_ID.sub("_", "-".join(p for p in parts if p)).strip("_-") or "rsc"
        if not base[0].isalpha():
            base = "r" + base
        rid, n = base, 2
        while rid in self.taken:
            rid, n = f"{base}-{n}", n + 1
        self.taken.add(rid)
        return rid


class _Builder:
    def __init__(self, name: str, nodes: tuple[str, ...]):
        self.ids = Ids()
        self.name, self.nodes = name, nodes
        self.groups: list[Group] = []
        self.clones: list[Promotable] = []
        self.stonith: list[Primitive] = []
        self.locations: list[Location] = []
        self.colocations: list[Colocation] = []
        self.orders: list[Order] = []
        self.levels: list[FencingLevel] = []
        self.notes: list[str] = []
        self.rsc_defaults: list[tuple[str, str]] = []

    def group(self, gid: str, items: list[Primitive | DrbdResource], meta: tuple[tuple[str, str], ...] = ()) -> None:
        members = tuple(i for i in items if isinstance(i, Primitive))
        if not members:
            raise ConvertError(f"group {gid}: nothing left to run in Pacemaker (only DRBD)")
        self.groups.append(Group(gid, members, meta))
        for drbd in (i for i in items if isinstance(i, DrbdResource)):
            prim = drbd_primitive(drbd, self.ids("drbd", drbd.resource))
            clone = Promotable(self.ids(prim.id, "clone"), prim)
            self.clones.append(clone)
            self.colocations.append(Colocation(self.ids(gid, "with", clone.id), gid, clone.id, INFINITY, "Promoted"))
            self.orders.append(Order(self.ids(clone.id, "before", gid), clone.id, gid, "promote", "start"))

    def fencing(self, plans: Any) -> None:
        for plan in plans:
            for index, method in enumerate(plan.methods, start=1):
                devices = []
                for use in method.devices:
                    sid = self.ids("fence", plan.node, use.device.name)
                    params = tuple((k, v) for k, v in use.merged if k != "action") + (("pcmk_host_list", plan.node),)
                    # A monitor, as `pcs stonith create` adds one by default: a device that stops answering
                    # (a dead BMC) is found before the fence it is needed for.
                    self.stonith.append(Primitive(sid, "stonith", use.device.agent, None, params,
                                                  (Op("monitor", STONITH_MONITOR_S, STONITH_TIMEOUT_S),),
                                                  source=f"fencing of {plan.node}: method {method.name}"))
                    # A node never runs the device that fences it (it could not fence itself when it hangs).
                    self.locations.append(Location(self.ids(sid, "avoids", plan.node), sid, plan.node, "-" + INFINITY))
                    devices.append(sid)
                self.levels.append(FencingLevel(self.ids("fl", plan.node, str(index)), plan.node, index, tuple(devices)))
        if not self.stonith:
            self.notes.append("no fencing configured: the CIB sets stonith-enabled=false; a Pacemaker cluster "
                              "without fencing cannot recover safely from a hung node: add stonith resources")

    def cluster(self) -> Cluster:
        props = [("cluster-name", self.name)]
        if not self.stonith:
            props.append(("stonith-enabled", "false"))
        return Cluster(self.name, self.nodes, tuple(self.groups), tuple(self.clones), tuple(self.stonith),
                       tuple(self.locations), tuple(self.colocations), tuple(self.orders), tuple(self.levels),
                       tuple(props), tuple(self.rsc_defaults), tuple(self.notes))


def _short(args: tuple[str, ...]) -> str:
    """A readable id part from a resource's arguments: the address of an IP, the mount point of a file system."""
    if not args:
        return ""
    if len(args) >= 2 and args[1].startswith("/"):
        return args[1].strip("/").replace("/", "_")
    return args[0].split("/")[0]


def from_heartbeat(hb: HeartbeatConfig, monitor_s: int) -> Cluster:
    b = _Builder("hbd", hb.hacf.nodes)
    b.rsc_defaults.append(("resource-stickiness", "0" if hb.hacf.auto_failback != "off" else STICKY))
    for g in hb.groups:
        items = [from_haresource(res, b.ids(res.agent, _short(res.args)), monitor_s) for res in g.resources]
        gid = b.ids("group", _short(g.resources[0].args) or g.resources[0].agent)
        b.group(gid, items)
        b.locations.append(Location(b.ids(gid, "prefers", g.node), gid, g.node, PREFERRED_SCORE))
    try:
        from hbd.fencing.from_hacf import peer_fencing
    except ImportError:  # a build without the fencing modules: ha.cf's stonith_host lines are not read
        plans: list[Any] = []
    else:
        plans = []
        for target in hb.hacf.nodes:
            others = [n for n in hb.hacf.nodes if n != target]
            if not others:
                continue
            try:
                found = peer_fencing(replace(hb.hacf, local_node=others[0]), target)
            except ValueError as exc:
                raise ConvertError(f"{hb.hacf.path}: stonith_host: {exc}") from None
            if found.plan.methods:
                plans.append(found.plan)
    b.fencing(plans)
    return b.cluster()


def from_cluster_conf(cc: Any) -> Cluster:
    b = _Builder(cc.name or "hbd", tuple(n.name for n in cc.nodes))
    domains = {d.name: d for d in cc.domains}
    types = child_type_table()
    for root in cc.roots:
        name = root.attr("name") or root.primary
        gid = b.ids(name)
        items: list[Primitive | DrbdResource] = []
        for step in start_plan(root, types):
            node = step.node
            converted = from_cluster_node(node, b.ids(name, node.type, node.primary))
            if converted is not None:
                items.append(converted)
        meta: list[tuple[str, str]] = []
        if root.attr("autostart") == "0":
            meta.append(("target-role", "Stopped"))
        domain = domains.get(root.attr("domain") or "")
        if domain is not None:
            if domain.nofailback:
                meta.append(("resource-stickiness", STICKY))
            members = {dn.name for dn in domain.nodes}
            for dn in domain.nodes:
                score = str(max(1, 1000 - 10 * dn.priority)) if domain.ordered and dn.priority else PREFERRED_SCORE
                b.locations.append(Location(b.ids(gid, "prefers", dn.name), gid, dn.name, score))
            if domain.restricted:
                for other in (n for n in b.nodes if n not in members):
                    b.locations.append(Location(b.ids(gid, "avoids", other), gid, other, "-" + INFINITY))
        if root.attr("recovery") == "relocate":
            meta.append(("migration-threshold", "1"))
        b.group(gid, items, tuple(meta))
    b.fencing(getattr(cc, "fence_plans", ()))
    return b.cluster()


def convert(cfg: LoadedConfig, monitor_s: int = 30) -> Cluster:
    if cfg.cluster is not None:
        return from_cluster_conf(cfg.cluster)
    assert cfg.heartbeat is not None
    return from_heartbeat(cfg.heartbeat, monitor_s)
