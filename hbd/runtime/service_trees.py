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
- Actions: each resource's actions are its rule's, after its own `<action>` elements; a resource run by an
  OCF agent gets its agent's meta-data actions first (hbd/runtime/service_meta.py). They give the check
  above and the bound of every start, stop and status (hbd/runtime/service_timeouts.py; `__enforce_timeouts`).
- Grace (doc/services.md "Departed nodes"): the time a node that left the membership may still run a service.
  With majority quorum it is the token (the minority notices the split as late as the majority does) plus
  the longest stop of any service: the sum of the bounds of its resources' stops (service_timeouts.bound_s).
  With `two_node="1"` both halves of a split keep quorum and neither stops anything, so no wait protects a
  service there (only fencing does; config check warns about two_node without fencing): the grace is the
  token alone, the time the other node needs to be declared dead.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from hbd.agents.base import DEFAULT_TIMEOUT_S, Op
from hbd.config.model import ResourceNode
from hbd.config.monitoring import DEFAULT_CHECKS, CheckTiming
from hbd.config.rules import Action, ActionOverride
from hbd.core.service_model import Catalog

SUBTREE_SEP = "//"
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
    actions: Mapping[str, tuple[Action, ...]] = field(default_factory=dict)  # resource ident -> its actions
    overrides: Mapping[str, tuple[ActionOverride, ...]] = field(default_factory=dict)  # ... its <action>s
    enforced: frozenset[str] = frozenset()  # resources with __enforce_timeouts="1" (rgmanager: per resource)

    def subtree(self, service: str, resource: str) -> str | None:
        return self.subtree_of.get((service, resource))

    def resources(self) -> Iterator[ResourceNode]:
        """Every resource of every service that runs an agent, once."""
        seen: set[str] = set()
        for root in self.services.values():
            for node in _walk(root):
                if node.type not in CONTAINERS and node.ident not in seen:
                    seen.add(node.ident)
                    yield node

    def with_actions(self, actions: Mapping[str, tuple[Action, ...]]) -> ServiceTrees:
        """The same trees with these resources' actions (and the checks they give) replaced."""
        merged = {**self.actions, **actions}
        return replace(self, actions=merged, timings=timings_of(merged))


def status_action(actions: tuple[Action, ...]) -> Action | None:
    polled = [a for a in actions if a.name == "status" and a.interval > 0]
    return min(polled, key=lambda a: (a.depth, a.interval)) if polled else None


def check_timing(rtype: str, actions: tuple[Action, ...]) -> CheckTiming | None:
    action = status_action(actions)
    if action is None:
        return None
    default = DEFAULT_CHECKS.get("lsb" if rtype == "script" else rtype, DEFAULT_CHECKS["*"])
    return CheckTiming(action.interval * 1000, action.timeout * 1000 if action.timeout > 0 else default.timeout_ms,
                       action.depth)


def timings_of(actions: Mapping[str, tuple[Action, ...]]) -> dict[str, CheckTiming]:
    out = {}
    for ident, acts in actions.items():
        timing = check_timing(ident.partition(":")[0], acts)
        if timing is not None:
            out[ident] = timing
    return out


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
    actions = {f"{r.type}:{r.primary}": r.actions for r in conf.resources if r.type not in CONTAINERS}
    overrides = {f"{r.type}:{r.primary}": r.overrides for r in conf.resources if r.type not in CONTAINERS}
    enforced = frozenset(node.ident for root in services.values() for node in _walk(root)
                         if "ENFORCE-TIMEOUTS" in node.flags and node.type not in CONTAINERS)
    return ServiceTrees(services, plans, subtree_of, timings_of(actions), actions, overrides, enforced)


def bound_s(actions: tuple[Action, ...], op: Op, enforced: bool) -> float:
    """How long one start, stop or status call of a resource may run. Its timeout is its `op` action's (a
    status: the action of its check, else of depth 0); 0 or none means hbd's default for the operation
    (hbd/agents/base.py). With `__enforce_timeouts` that timeout is the bound (rgmanager kills the agent at it);
    without, rgmanager treats it as a hint and waits for ever: hbd still bounds every call (a hung agent must
    not hold a service, nor the grace, for ever), by the timeout or its default, whichever is longer."""
    if op == "status":
        action = status_action(actions) or next((a for a in actions if a.name == op and a.depth == 0), None)
    else:
        action = next((a for a in actions if a.name == op), None)
    declared = float(action.timeout) if action is not None else 0.0
    default = DEFAULT_TIMEOUT_S[op]
    if enforced:
        return declared if declared > 0 else default
    return max(declared, default)


def stop_bound_ms(trees: ServiceTrees, service: ResourceNode) -> int:
    """The longest a stop of `service` may take: the bounds of its resources' stops added up."""
    total = 0.0
    for node in _walk(service):
        if node.type not in CONTAINERS:
            total += bound_s(trees.actions.get(node.ident, ()), "stop", node.ident in trees.enforced)
    return round(total * 1000)


def grace_ms(conf: Any, trees: ServiceTrees, token_ms: int) -> int:
    if conf.two_node:
        return token_ms
    return token_ms + max((stop_bound_ms(trees, root) for root in trees.services.values()), default=0)
