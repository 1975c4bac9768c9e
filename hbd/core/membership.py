"""Heartbeat membership as a pure state machine: who is alive, on which links, from packets and the clock.

`(event, now) -> actions`, with `now` the monotonic time in seconds. The runtime calls `handle()` for each
authenticated message and again no later than `wakeup_at()`. Behaviour follows heartbeat.md §7.1, §7.2,
§7.5, §7.8 and §8.3-8.6; log texts are Heartbeat's (§9.2) so that existing log checks keep working.

Design limit (checked over 10 000 seeded simulated runs in tests/sim): with deadtime >= 10 x keepalive and
packets delayed up to 50 ms, reordered and duplicated, no live peer is declared dead while each medium
loses at most 25 % of packets with two media, or 10 % with a single medium. Deadlines are exact: a silent
peer is declared dead its advertised dt after its last packet, not at the next 250 ms check as in Heartbeat.
The per-node records and the retransmission rules for one peer live in membership_peers.py.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from hbd.config.model import HaCf, Timing
from hbd.core.membership_events import (
    Action, CommUp, Deliver, DropKind, Dropped, Event, LinkChanged, LinkView, LocalHeartbeatLost, Log, MembershipView, NodeChanged,
    NodeStatus, NodeView, PeerRestarted, PeerReturned, Received, Send,
)
from hbd.core.membership_peers import (
    LinkState, NodeState, give_up, note_sequence, partition_logs, refresh_link, rexmit_answer, rexmit_requests,
)
from hbd.core.messages import Field, Message
from hbd.core.own_heartbeat import OwnHeartbeat
from hbd.core.sequence import SentHistory, Verdict

STARTUP_DT_S = 5.0  # for this long after start the advertised dt is deadtime + 2000 ms
STARTUP_DT_EXTRA_MS = 2000
ACK_EVERY = 10  # NS_ackmsg for about every 10th sequenced packet of a peer
PROTOCOL = "1"


@dataclass(frozen=True)
class MembershipConfig:
    local: str
    nodes: tuple[str, ...]  # every configured node, the local one included, lower case
    timing: Timing

    @classmethod
    def from_hacf(cls, hacf: HaCf) -> "MembershipConfig":
        return cls(hacf.local_node.lower(), tuple(n.lower() for n in hacf.nodes), hacf.timing)


class Membership:
    def __init__(self, config: MembershipConfig, now: float, *, generation: int,
                 rng: random.Random | None = None):
        self.config = config
        self.generation = generation
        self.rng = rng or random.Random(0)
        t = config.timing
        self.keepalive_s = t.keepalive_ms / 1000
        self.deadtime_s = t.deadtime_ms / 1000
        self.warntime_s = t.warntime_ms / 1000
        self.initdead_s = t.initdead_ms / 1000
        self.started = now
        self.local_status: NodeStatus = "init"
        self.comm_up = False
        self.next_seq = 1
        self.next_status_at = now
        self.history = SentHistory()
        self.nodes = {name: NodeState(name) for name in config.nodes}
        for i, node in enumerate(self.nodes.values()):
            node.ack_slot = (i * 7 + len(node.name)) % ACK_EVERY  # spread the ACKs of several peers
        self.local_lost = False
        self.own = OwnHeartbeat()
        self._wake = now

    # --- entry points ------------------------------------------------------------------------------

    def start(self, now: float) -> list[Action]:
        """The first status goes out as `init`, then at once as `up` (heartbeat.md §7.1, §11.14)."""
        out: list[Action] = [self._status_send(now)]
        self.local_status = "up"
        out.append(Log("info", "Local status now set to: 'up'"))
        out.append(self._status_send(now))
        self.next_status_at = now + self.keepalive_s
        self._wake = self._next_wakeup()
        return out

    def handle(self, event: Event, now: float) -> list[Action]:
        out: list[Action] = []
        if isinstance(event, Received):
            self._receive(event.message, event.link, now, out)
        # a packet only moves deadlines later (or adds future rexmit times): timers are due only at _wake
        if now >= self._wake or not isinstance(event, Received):
            self._timers(now, out)
        self._wake = self._next_wakeup()
        return out

    def wakeup_at(self) -> float:
        """When the runtime must call handle(Tick()) at the latest."""
        return self._wake

    def _next_wakeup(self) -> float:
        # runs after every event (the simulator calls it millions of times, the daemon several times per
        # keepalive): _deadline and _link_deadline written out inline, same arithmetic, no calls per link
        best = self.next_status_at
        local, started, default_dt = self.config.local, self.started, self.deadtime_s
        for node in self.nodes.values():
            dt = node.dt_s if node.dt_s is not None else default_dt
            if node.name == local:
                deadline = None if self.local_lost else self.own.deadline(self.deadtime_s, self.initdead_s)
                if deadline is not None and deadline < best:
                    best = deadline
            elif node.status != "dead":
                if not self.comm_up or not node.heard:
                    since = node.last if node.heard and node.last is not None else started
                    deadline = since + max(self.initdead_s, dt)
                else:
                    deadline = (node.last or started) + dt
                if deadline < best:
                    best = deadline
            for link in node.links.values():
                if link.up:
                    deadline = (link.last or started) + dt
                    if deadline < best:
                        best = deadline
            if node.rexmit_due:
                for when, _ in node.rexmit_due.values():
                    if when < best:
                        best = when
        return best

    def send(self, body: tuple[Field, ...], dest: str | None = None) -> Send:
        """Sequence a message of the layers above (resource, ask_resources, ...) and keep it for rexmit."""
        seq = self.next_seq
        self.next_seq += 1
        self.history.add(seq, body, dest)
        return Send(body, seq, dest)

    def view(self, now: float) -> MembershipView:
        def age(t: float | None) -> float | None:
            return None if t is None else now - t
        nodes = tuple(
            NodeView(n.name, n.status, int(self._node_dt(n) * 1000), age(n.last), n.seq.generation,
                     tuple(LinkView(k, v.up, age(v.last)) for k, v in sorted(n.links.items())),
                     n.histogram.buckets())
            for n in self.nodes.values())
        return MembershipView(self.config.local, self.local_status, self.comm_up, nodes)

    # --- sending -----------------------------------------------------------------------------------

    def advertised_dt_ms(self, now: float) -> int:
        extra = STARTUP_DT_EXTRA_MS if now - self.started < STARTUP_DT_S else 0
        return self.config.timing.deadtime_ms + extra

    def _status_send(self, now: float) -> Send:
        body = (("t", "status"), ("st", self.local_status), ("dt", f"{self.advertised_dt_ms(now):x}"),
                ("protocol", PROTOCOL))
        send = self.send(body)
        self.own.sent(send.seq, now)  # type: ignore[arg-type]
        return send

    # --- timers ------------------------------------------------------------------------------------

    def _deadline(self, node: NodeState) -> float | None:
        if node.name == self.config.local:
            return None if self.local_lost else self.own.deadline(self.deadtime_s, self.initdead_s)
        if not self.comm_up or not node.heard:
            since = node.last if node.heard and node.last is not None else self.started
            return since + max(self.initdead_s, self._node_dt(node))
        return (node.last or self.started) + self._node_dt(node)

    def _node_dt(self, node: NodeState) -> float:
        return node.dt_s if node.dt_s is not None else self.deadtime_s

    def _link_deadline(self, node: NodeState, link: LinkState) -> float:
        return (link.last or self.started) + self._node_dt(node)

    def _timers(self, now: float, out: list[Action]) -> None:
        for node in self.nodes.values():
            deadline = self._deadline(node)
            if deadline is not None and now >= deadline:
                if node.name == self.config.local:
                    self._local_dead(node, out)
                elif node.status != "dead":
                    self._node_dead(node, out)  # logs its links dead after it (heartbeat.md §7.2)
            for name, link in node.links.items():
                if link.up and now >= self._link_deadline(node, link):
                    self._link_down(node, name, out)
            rexmit_requests(node, now, out)
        if not self.comm_up:
            self._check_comm_up(now, out)
        if now >= self.next_status_at:
            out.append(self._status_send(now))
            # keep the cadence; after a stall, restart it rather than sending a burst
            self.next_status_at += self.keepalive_s
            if self.next_status_at <= now:
                self.next_status_at = now + self.keepalive_s

    def _link_down(self, node: NodeState, name: str, out: list[Action]) -> None:
        node.links[name].up = False
        out += [Log("info", f"Link {node.name}:{name} dead."), LinkChanged(node.name, name, False)]

    def _node_dead(self, node: NodeState, out: list[Action]) -> None:
        node.status = "dead"
        node.rexmit_due.clear()
        node.seq.missing.clear()
        out += [Log("WARN", f"node {node.name}: is dead"), NodeChanged(node.name, "dead")]
        for name, link in sorted(node.links.items()):
            if link.up:
                self._link_down(node, name, out)

    def _local_dead(self, node: NodeState, out: list[Action]) -> None:
        self.local_lost = True
        self.own.reset()
        out += [Log("WARN", f"node {node.name}: is dead"),
                Log("ERROR", "No local heartbeat. Forcing restart."),
                Log("info", "See URL: http://linux-ha.org/wiki/FAQ#No_Local_Heartbeat"),
                LocalHeartbeatLost()]
        for name, link in sorted(node.links.items()):
            if link.up:
                self._link_down(node, name, out)

    def _check_comm_up(self, now: float, out: list[Action]) -> None:
        peers = [n for n in self.nodes.values() if n.name != self.config.local]
        if all(n.heard or n.status == "dead" for n in peers):
            self.comm_up = True
            self.local_status = "active"
            out += [Log("info", "Comm_now_up(): updating status to active"),
                    Log("info", "Local status now set to: 'active'"), CommUp(), self._status_send(now)]

    # --- receiving ---------------------------------------------------------------------------------

    def _receive(self, msg: Message, link: str, now: float, out: list[Action]) -> None:
        src = msg.src
        generation = msg.hex_field("hg")
        kind = msg.type  # read once: every packet comes through here, each medium's copy
        if src is None or generation is None or kind is None:
            out.append(Dropped(DropKind.INCOMPLETE, src or "?", link,
                               f"message without src, hg or t dropped (from {src or '?'} on {link})"))
            return
        node = self.nodes.get(src)
        if node is None:
            out.append(Dropped(DropKind.UNKNOWN_NODE, src, link, f"process_status_message: bad node [{src}] in message"))
            return
        raw_seq = msg.get("seq")
        seq = None if raw_seq is None else msg.hex_field("seq")
        if raw_seq is not None and seq is None:
            out.append(Dropped(DropKind.BAD_SEQ, src, link, f"bad seq [{raw_seq}] from {src} dropped"))
            return
        if src == self.config.local:
            self._receive_own(node, seq, generation, link, now, out)
            return
        was_dead = node.status == "dead" and node.heard
        obs = node.seq.observe(generation, seq)
        if obs.verdict is Verdict.REPLAY:
            out.append(Dropped(DropKind.OLD_GENERATION, src, link, f"should_drop_message: attempted replay attack "
                               f"[{src}]? [gen = {generation}, curgen = {obs.previous_generation}]"))
            return
        if obs.restart:
            out += [Log("info", f"Heartbeat restart on node {src}"), PeerRestarted(src, generation)]
            node.rexmit_due.clear()
            node.last_status_at = None
            for state in node.links.values():
                state.top_seq = -1
        if seq is not None:
            fresh = refresh_link(node, link, seq, now, out, new_to_node=obs.verdict is Verdict.NEW)
            if not fresh and obs.verdict is Verdict.DUPLICATE:  # the second medium's copy is fresh on its link
                out.append(Dropped(DropKind.STALE_SEQ, src, link, f"old packet from {src} on {link}: seq {seq} "
                                   f"(newest there {node.links[link].top_seq}): replayed or reordered"))
        if obs.verdict is Verdict.DUPLICATE:
            return
        if seq is not None:
            node.last = now  # only sequenced packets prove life: a replayed NS_ packet cannot
        if was_dead and obs.in_order and not obs.restart and seq is not None:
            out += partition_logs(src)
            out.append(PeerReturned(src))
        note_sequence(node, obs, now, self.rng, out)
        node.heard = node.heard or seq is not None
        dest = msg.get("dest")
        if dest is not None and dest.lower() != self.config.local:
            self._after_accept(node, now, out)
            return  # addressed to someone else: it counted for the sequence only
        if kind == "status":
            if obs.in_order:
                self._status(node, msg, now, out)
        elif kind == "NS_rexmit":
            rexmit_answer(node, msg, self.history, now, out)
        elif kind == "NS_nak_rexmit":
            first = msg.hex_field("firstseq")
            if first is not None and first in node.rexmit_due:
                give_up(node, first, out)
        elif kind == "reqnodes":
            nodelist = "".join(f"{n} " for n in self.config.nodes)
            out.append(self.send((("t", "repnodes"), ("nodelist", nodelist), ("delnodelist", "")), src))
        elif seq is not None and not kind.startswith("NS_"):
            out.append(Deliver(msg))
        if seq is not None and seq % ACK_EVERY == node.ack_slot:
            out.append(Send((("t", "NS_ackmsg"), ("ackseq", f"{seq:x}")), None, src))
        self._after_accept(node, now, out)

    def _after_accept(self, node: NodeState, now: float, out: list[Action]) -> None:
        if node.status == "dead" and node.last == now:  # a sequenced packet before its first status
            node.status = "init"
            out.append(NodeChanged(node.name, "init"))
        if not self.comm_up:
            self._check_comm_up(now, out)

    def _receive_own(self, node: NodeState, seq: int | None, generation: int, link: str, now: float,
                     out: list[Action]) -> None:
        if seq is None:
            return  # our own NS_ packets looped back: nothing to learn
        if generation != self.generation:
            out.append(Dropped(DropKind.OWN_OLD_GENERATION, node.name, link, f"should_drop_message: attempted "
                               f"replay attack [{node.name}]? [gen = {generation}, curgen = {self.generation}]"))
            return
        if refresh_link(node, link, seq, now, out):
            self.own.came_back(seq)
            node.last = now
            node.heard = True
            self.local_lost = False
            node.status = self.local_status

    def _status(self, node: NodeState, msg: Message, now: float, out: list[Action]) -> None:
        dt_ms = msg.hex_field("dt")
        if dt_ms is not None and dt_ms > 0:
            node.dt_s = dt_ms / 1000
        if node.last_status_at is not None:
            interval = now - node.last_status_at
            interval_ms = int(interval * 1000)
            node.histogram.add(interval_ms)
            if interval > self._node_dt(node):
                out.append(Log("CRIT", f"Late heartbeat: Node {node.name}: interval {interval_ms} ms (> deadtime)"))
            elif interval > self.warntime_s:
                out.append(Log("WARN", f"Late heartbeat: Node {node.name}: interval {interval_ms} ms"))
        node.last_status_at = now
        status = msg.get("st")
        if status in ("init", "up", "active", "dead") and status != node.status:
            node.status = status  # type: ignore[assignment]
            out += [Log("info", f"Status update for node {node.name}: status {status}"),
                    NodeChanged(node.name, node.status)]
