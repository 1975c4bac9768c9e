"""The bound of each start, stop and status of a cluster.conf resource, from its actions (`__enforce_timeouts`).

The plan executor (hbd/agents/executor.py) calls an agent without a timeout of its own; the runner of the
cluster.conf daemon resolves every resource to a `BoundedAgent`, which gives each such call the resource's
bound (service_trees.bound_s): with `__enforce_timeouts="1"` on the resource, its action's timeout (from its
`<action>`, its agent's meta-data or the rule table), so a start, stop or status that runs longer is killed and
fails (a start: recovered by the policy; a stop: the failed-stop path); without it, the timeout or hbd's default
for the operation, whichever is longer (rgmanager would not bound it at all: doc/differences.md). A status
check of the monitor passes its own timeout (the check's, always enforced) and keeps it.
"""
from __future__ import annotations

from typing import Callable, Mapping

from hbd.agents.base import OPS, AddressClaim, Agent, AgentResult, Deadline, Op, StartOptions
from hbd.config.model import ResourceNode
from hbd.runtime.service_trees import CONTAINERS, ServiceTrees, bound_s


class BoundedAgent(Agent):
    """An agent whose calls without a timeout of their own get the resource's bounds; everything else is its."""

    def __init__(self, inner: Agent, bounds: Mapping[Op, float]):
        self.inner = inner
        self.bounds = dict(bounds)
        self.kind = inner.kind
        self.idempotent_start = inner.idempotent_start
        self.claims_addresses = inner.claims_addresses

    @property
    def label(self) -> str:
        return self.inner.label

    def start(self, deadline: Deadline) -> AgentResult:
        return self.inner.start(deadline)

    def stop(self, deadline: Deadline) -> AgentResult:
        return self.inner.stop(deadline)

    def status(self, deadline: Deadline) -> AgentResult:
        return self.inner.status(deadline)

    def start_with(self, deadline: Deadline, options: StartOptions) -> AgentResult:
        return self.inner.start_with(deadline, options)

    def claimed_addresses(self) -> tuple[AddressClaim, ...]:
        return self.inner.claimed_addresses()

    def link_interfaces(self) -> tuple[str, ...]:
        return self.inner.link_interfaces()

    def announce_again(self) -> str:
        return self.inner.announce_again()

    def force_stop(self, timeout_s: float | None = None) -> AgentResult | None:
        return self.inner.force_stop(self.bounds.get("stop") if timeout_s is None else timeout_s)

    def call(self, op: Op, timeout_s: float | None = None, options: StartOptions = StartOptions()) -> AgentResult:
        return self.inner.call(op, self.bounds.get(op) if timeout_s is None else timeout_s, options)


def bounds_of(trees: ServiceTrees, ident: str) -> dict[Op, float]:
    actions, enforced = trees.actions.get(ident, ()), ident in trees.enforced
    return {op: bound_s(actions, op, enforced) for op in OPS}


def bounded(trees: ServiceTrees, resolve: Callable[[ResourceNode], Agent]) -> Callable[[ResourceNode], Agent]:
    """`resolve` whose agents carry their resource's bounds (containers run nothing and stay as they are)."""
    table = {node.ident: bounds_of(trees, node.ident) for node in trees.resources()}

    def resolve_bounded(node: ResourceNode) -> Agent:
        agent = resolve(node)
        if node.type in CONTAINERS or agent.kind == "container":
            return agent
        return BoundedAgent(agent, table.get(node.ident) or bounds_of(trees, node.ident))

    return resolve_bounded
