"""A simulated network and virtual clock that drive several membership cores (no sockets, no real time).

Each medium delivers every packet to every powered node on it, the sender included (Heartbeat's loopback),
with seeded loss, delay (hence reordering) and duplication; media can be cut per node, nodes powered off
and restarted with a higher generation. Packets travel as decoded `Message`s: the wire codec has its own tests.
"""
from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

from hbd.config.model import Timing
from hbd.core.membership import Membership, MembershipConfig
from hbd.core.membership_events import Action, Deliver, Log, NodeChanged, Received, Send, Tick
from hbd.core.messages import Message, Sender, with_control_fields


@dataclass
class MediumFaults:
    loss: float = 0.0
    delay: tuple[float, float] = (0.0005, 0.002)
    duplicate: float = 0.0


@dataclass
class Record:
    """What a node's core did, with virtual timestamps, for the properties to check."""

    actions: list[tuple[float, Action]] = field(default_factory=list)

    def logs(self) -> list[str]:
        return [f"{a.level}: {a.text}" for _, a in self.actions if isinstance(a, Log)]

    def status_changes(self, node: str) -> list[tuple[float, str]]:
        return [(t, a.status) for t, a in self.actions if isinstance(a, NodeChanged) and a.node == node]

    def delivered(self) -> list[Message]:
        return [a.message for _, a in self.actions if isinstance(a, Deliver)]


class SimCluster:
    def __init__(self, nodes: list[str], timing: Timing, media: list[MediumFaults], seed: int):
        self.rng = random.Random(seed)
        self.names = nodes
        self.timing = timing
        self.media = media
        self.now = 0.0
        self._queue: list[tuple[float, int, str, int, Message]] = []
        self._counter = 0
        self.cores: dict[str, Membership | None] = {}
        self.generation = {n: 1 for n in nodes}
        self.records = {n: Record() for n in nodes}
        self.cut: set[tuple[str, int]] = set()
        self.last_sent: dict[str, float] = {}
        self.last_received: dict[tuple[str, str], float] = {}  # (receiver, sender) -> first copy of newest packet
        self._wake: dict[str, float] = {}  # each powered core's wakeup_at(), refreshed after it acts
        self._seen: set[tuple[str, str, str | None, str]] = set()

    # --- control ---------------------------------------------------------------------------------

    def boot(self, node: str) -> None:
        config = MembershipConfig(node, tuple(self.names), self.timing)
        core = Membership(config, self.now, generation=self.generation[node], rng=random.Random(self.rng.random()))
        self.cores[node] = core
        self._apply(node, core.start(self.now))

    def power_off(self, node: str) -> None:
        self.cores[node] = None
        self._wake.pop(node, None)

    def restart(self, node: str) -> None:
        self.generation[node] += 1
        self.boot(node)

    def partition(self, node: str, medium: int | None = None) -> None:
        for m in ([medium] if medium is not None else range(len(self.media))):
            self.cut.add((node, m))

    def heal(self) -> None:
        self.cut.clear()

    def inject(self, receiver: str, message: Message, medium: int = 0) -> None:
        """Deliver a crafted or captured message now, as an attacker on the wire would."""
        self._enqueue(self.now, receiver, medium, message)

    def send_app(self, node: str, body: tuple) -> int:
        core = self.cores[node]
        assert core is not None
        action = core.send(body)
        self._apply(node, [action])
        assert action.seq is not None
        return action.seq

    # --- running ---------------------------------------------------------------------------------

    def run_until(self, end: float, max_steps: int = 1_000_000) -> None:
        for _ in range(max_steps):
            wake = min(self._wake.values(), default=end + 1)
            packet_at = self._queue[0][0] if self._queue else end + 1
            t = min(wake, packet_at)
            if t > end:
                self.now = end
                return
            self.now = max(self.now, t)
            if self._queue and packet_at <= t:
                _, _, receiver, medium, message = heapq.heappop(self._queue)
                core = self.cores.get(receiver)
                if core is not None and (receiver, medium) not in self.cut:
                    self._note_reception(receiver, message)
                    self._apply(receiver, core.handle(Received(message, f"m{medium}"), self.now))
                continue
            for name, when in list(self._wake.items()):
                core = self.cores[name]
                if core is not None and when <= self.now:
                    self._apply(name, core.handle(Tick(), self.now))
        raise AssertionError("simulation did not reach its end time within the step bound")

    def _note_reception(self, receiver: str, message: Message) -> None:
        # the first copy of each sequenced packet is what proves a peer alive
        src, seq, gen = message.src, message.get("seq"), message.get("hg")
        if src is None or seq is None:
            return
        key = (receiver, src, gen, seq)
        if key not in self._seen:
            self._seen.add(key)
            self.last_received[(receiver, src)] = self.now

    def _apply(self, node: str, actions: list[Action]) -> None:
        core = self.cores[node]
        if core is not None:
            self._wake[node] = core.wakeup_at()
        record = self.records[node]
        for action in actions:
            record.actions.append((self.now, action))
            if isinstance(action, Send):
                self._transmit(node, action)

    def _transmit(self, node: str, send: Send) -> None:
        core = self.cores[node]
        assert core is not None
        sender = Sender(node, node.encode().ljust(16, b"\0"), self.generation[node], 3)
        message = Message(tuple(with_control_fields(send.body, sender, seq=send.seq, ts=int(self.now),
                                                    load=None, dest=send.dest)))
        self.last_sent[node] = self.now
        for m, faults in enumerate(self.media):
            if (node, m) in self.cut:
                continue
            for receiver in self.names:
                copies = 1 + (self.rng.random() < faults.duplicate)
                for _ in range(copies):
                    if self.rng.random() < faults.loss:
                        continue
                    self._enqueue(self.now + self.rng.uniform(*faults.delay), receiver, m, message)

    def _enqueue(self, when: float, receiver: str, medium: int, message: Message) -> None:
        self._counter += 1
        heapq.heappush(self._queue, (when, self._counter, receiver, medium, message))
