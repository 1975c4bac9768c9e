"""What the service driver needs from a loaded cluster.conf: each service's resource tree, its independent
subtrees, the status check of each resource, and the grace a departed node is given (no I/O).

- Trees: the `<service>` roots of cluster.conf, run in the order `hbd test noop start|stop service NAME`
  prints (hbd/core/ordering.py, the same plan); an `__independent_subtree` root is also a plan of its own
  (key `SERVICE//type:primary`), restarted alone.
- Checks: a resource's status check is its rule's `status` action (rgmanager's rule table, hbd/config/rules.py)
  after the resource's own `<action name="status" .../>` overrides: of the actions with an interval, the one of
  the lowest depth (depth 0 is the cheapest check, as rgmanager runs it most often). A timeout of 0 (the
  `script` rule) means the agent class's default (hbd/config/monitoring.py); no action with an interval: the
  resource is not checked. Containers (`service`) run nothing and are not checked.
- Grace (doc/services.md "Departed nodes"): the time a node that left the membership may still run a service.
  With majority quorum it is the token (the minority notices the split as late as the majority does) plus
  the longest stop of any service: the sum of the `stop` action timeouts of its resources (0: STOP_DEFAULT_S).
  With `two_node="1"` both halves of a split keep quorum and neither stops anything, so no wait protects a
  service there (only fencing does; config check warns about two_node without fencing): the grace is the
  token alone, the time the other node needs to be declared dead.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Mapping

from hbd.config.model import ResourceNode
from hbd.config.monitoring import DEFAULT_CHECKS, CheckTiming
from hbd.config.rules import Action
from hbd.core.service_model import Catalog

SUBTREE_SEP = "//"
STOP_DEFAULT_S = 60  # an agent's own stop timeout when the rule gives none (hbd/agents/base.py's default)
CONTAINERS = ("service", "group", "vm")


def subtree_key(service: str, ident: str) -> str:
    return f"{service}{SUBTREE_SEP}{ident}"


def _walk(node: ResourceNode) -> Iterator[ResourceNode]:
    yield node
    for child in node.children:
        yield from _walk(child)


@dataclass(frozen=True)
class ServiceTrees:
    """Per service: its tree; the runner's plans (services and independent subtrees); resource -> subtree."""

    services: Mapping[str, ResourceNode]  # service name -> its <service> root
    plans: Mapping[str, ResourceNode]  # runner key (service, or SERVICE//type:primary) -> plan root
    subtree_of: Mapping[tuple[str, str], str]  # (service, resource ident) -> its independent root's ident
    timings: Mapping[str, CheckTiming]  # resource ident -> its status check (absent: not checked)

    def subtree(self, service: str, resource: str) -> str | None:
        return self.subtree_of.get((service, resource))


def status_action(actions: tuple[Action, ...]) -> Action | None:
    polled = [a for a in actions if a.name == "status" and a.interval > 0]
    return min(polled, key=lambda a: (a.depth, a.interval)) if polled else None


def check_timing(rtype: str, actions: tuple[Action, ...]) -> CheckTiming | None:
    action = status_action(actions)
    if action is None:
        return None
    default = DEFAULT_CHECKS.get("lsb" if rtype == "script" else rtype, DEFAULT_CHECKS["*"])
    return CheckTiming(action.interval * 1000, action.timeout * 1000 if action.timeout > 0 else default.timeout_ms)


def build(conf: Any) -> ServiceTrees:
    """`conf`: a hbd.config.clusterconf.ClusterConf with its catalog."""
    catalog: Catalog = conf.catalog
    roots = {r.primary: r for r in conf.roots if r.type == "service"}
    services = {s.name: roots[s.name] for s in catalog.services if s.name in roots}
    plans: dict[str, ResourceNode] = dict(services)
    subtree_of: dict[tuple[str, str], str] = {}
    for spec in catalog.services:
        independent = {t.ident for t in spec.independent}
        for node in _walk(services[spec.name]) if spec.name in services else ():
            if node.ident in independent and (spec.name, node.ident) not in subtree_of:
                plans[subtree_key(spec.name, node.ident)] = node
                for inner in _walk(node):
                    subtree_of.setdefault((spec.name, inner.ident), node.ident)
    timings: dict[str, CheckTiming] = {}
    for resource in conf.resources:
        if resource.type in CONTAINERS:
            continue
        timing = check_timing(resource.type, resource.actions)
        if timing is not None:
            timings[f"{resource.type}:{resource.primary}"] = timing
    return ServiceTrees(services, plans, subtree_of, timings)


def stop_bound_ms(conf: Any, service: ResourceNode) -> int:
    """The longest a stop of `service` may take: its resources' stop timeouts added up."""
    actions = {f"{r.type}:{r.primary}": r.actions for r in conf.resources}
    total = 0
    for node in _walk(service):
        if node.type in CONTAINERS:
            continue
        stop = next((a for a in actions.get(node.ident, ()) if a.name == "stop"), None)
        total += (stop.timeout if stop is not None and stop.timeout > 0 else STOP_DEFAULT_S) * 1000
    return total


def grace_ms(conf: Any, trees: ServiceTrees, token_ms: int) -> int:
    if conf.two_node:
        return token_ms
    return token_ms + max((stop_bound_ms(conf, root) for root in trees.services.values()), default=0)
