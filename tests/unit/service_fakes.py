"""A synchronous little cluster of service cores for unit tests: messages are delivered at once, in order."""
from __future__ import annotations

from collections import deque

from hbd.core import service_events as e
from hbd.core.service_model import Catalog, NodeSpec, ServiceSpec
from hbd.core.service_node import ServiceNode
from hbd.core.service_states import ServiceState
from hbd.core.service_table import AdminOp, AdminRequest, Refusal

GRACE = 1000


def catalog(*services: ServiceSpec, nodes: int = 2) -> Catalog:
    return Catalog(tuple(NodeSpec(f"n{i}", i) for i in range(1, nodes + 1)), services)


class Net:
    def __init__(self, cat: Catalog):
        self.catalog = cat
        self.cores = {n.name: ServiceNode(n.name, cat, GRACE) for n in cat.nodes}
        self.actions: dict[str, list[e.Action]] = {n: [] for n in self.cores}
        self.cut: set[str] = set()  # nodes whose messages are dropped
        self.now = 0
        self.queue: deque[tuple[str, e.Send]] = deque()
        self.ids = 0

    def feed(self, node: str, event: e.Event) -> list[e.Action]:
        out = self.cores[node].handle(event, self.now)
        self.actions[node] += out
        for a in out:
            if isinstance(a, e.Send):
                self.queue.append((node, a))
        self._drain()
        return out

    def _drain(self) -> None:
        while self.queue:
            sender, send = self.queue.popleft()
            if sender in self.cut or send.to in self.cut:
                continue
            out = self.cores[send.to].handle(e.MessageReceived(send.message), self.now)
            self.actions[send.to] += out
            self.queue.extend((send.to, a) for a in out if isinstance(a, e.Send))

    def form(self, members: set[str] | None = None, quorate: bool = True) -> None:
        group = frozenset(members if members is not None else self.cores)
        for node in sorted(group):
            self.feed(node, e.MembersChanged(group))
        for node in sorted(group):
            self.feed(node, e.QuorumChanged(quorate))

    def done(self, node: str, service: str, op: e.Op, ok: bool = True) -> None:
        self.feed(node, e.OperationDone(service, op, ok))

    def admin(self, node: str, op: AdminOp, service: str, target: str | None = None) -> Refusal | None:
        self.ids += 1
        self.feed(node, e.AdminRequested(self.ids, AdminRequest(op, service, target)))
        replies = [a for a in self.actions[node] if isinstance(a, e.AdminReply) and a.request_id == self.ids]
        assert len(replies) == 1, replies
        return replies[0].refusal

    def state(self, node: str, service: str) -> ServiceState:
        return self.cores[node].local[service]

    def pending(self, node: str, kind: type) -> list[str]:
        """Services with a Start/Stop action of `kind` since the last call (and forget them)."""
        found = [a.service for a in self.actions[node] if isinstance(a, kind)]  # type: ignore[attr-defined]
        self.actions[node] = [a for a in self.actions[node] if not isinstance(a, kind)]
        return found

    def transitions(self, node: str, service: str) -> list[tuple[ServiceState, ServiceState]]:
        return [(a.old, a.new) for a in self.actions[node]
                if isinstance(a, e.ServiceTransition) and a.service == service]

    def start_up(self, node: str, service: str) -> None:
        """Complete the start the core asked `node` for."""
        assert service in self.pending(node, e.StartService), self.actions[node]
        self.done(node, service, e.Op.START)
        assert self.state(node, service) is ServiceState.STARTED
