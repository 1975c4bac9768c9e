"""In-memory agents and group trees for the daemon's unit tests: a shared journal records every call."""
from __future__ import annotations

from dataclasses import dataclass, field

from hbd.agents.base import Agent, AgentResult, Deadline, failed, running, stopped  # noqa: F401 (used by tests)
from hbd.config.model import ResourceNode


@dataclass
class World:
    """What runs, what was called, and which calls fail."""

    up: set[str] = field(default_factory=set)
    journal: list[str] = field(default_factory=list)
    fail: set[str] = field(default_factory=set)  # "NAME start" / "NAME stop"

    def resolve(self, node: ResourceNode) -> Agent:
        if node.type == "group":
            from hbd.agents.registry import ContainerAgent

            return ContainerAgent("group", node.primary)
        agent = FakeAgent(self, node.primary)
        if node.primary.startswith("script"):
            agent.idempotent_start = False  # a script resource: asked for its status before a start
        return agent


class FakeAgent(Agent):
    kind = "fake"

    def __init__(self, world: World, name: str):
        self.world, self.name = world, name

    @property
    def label(self) -> str:
        return self.name

    def _op(self, op: str) -> AgentResult:
        self.world.journal.append(f"{self.name} {op}")
        if f"{self.name} {op}" in self.world.fail:
            return failed(op, f"{self.name} refused to {op}")  # type: ignore[arg-type]
        if op == "start":
            self.world.up.add(self.name)
            return running("start")
        self.world.up.discard(self.name)
        return stopped("stop")

    def start(self, deadline: Deadline) -> AgentResult:
        return self._op("start")

    def stop(self, deadline: Deadline) -> AgentResult:
        return self._op("stop")

    def status(self, deadline: Deadline) -> AgentResult:
        self.world.journal.append(f"{self.name} status")
        return running("status") if self.name in self.world.up else stopped("status")


def group(key: str, *names: str) -> ResourceNode:
    children = tuple(ResourceNode(type=n.split("::")[0], primary=n, attrs=(("args", ""),)) for n in (key, *names))
    return ResourceNode(type="group", primary=key, children=children)
