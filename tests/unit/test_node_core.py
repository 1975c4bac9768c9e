"""The composed node core (hbd/core/node.py): membership -> ownership, own-heartbeat loss -> restart, the
pre-probe as a deadline (never a poll), other services' messages, integer milliseconds at its interface."""
from __future__ import annotations

from typing import Any

from hbd.config.model import Timing
from hbd.core import membership_events as m
from hbd.core import node_events as n
from hbd.core import ownership_types as o
from hbd.core.holdings import GroupInfo, Topology
from hbd.core.membership import MembershipConfig
from hbd.core.messages import Message, Sender, with_control_fields
from hbd.core.node import NodeConfig, NodeCore
from hbd.core.pre_probe import probe_timing

TIMING = Timing(keepalive_ms=100, deadtime_ms=1000, warntime_ms=500, initdead_ms=2000)
TOPOLOGY = Topology((GroupInfo("g1", "n1"), GroupInfo("g2", "n2")))


def core(name: str = "n1", **kwargs: Any) -> NodeCore:
    config = NodeConfig(MembershipConfig(name, ("n1", "n2"), TIMING), "n2" if name == "n1" else "n1", TOPOLOGY,
                        o.Policy(), **kwargs)
    return NodeCore(config, 0, generation=1)


def recording(node: NodeCore) -> list[o.Event]:
    """The events the node core feeds its ownership part."""
    seen: list[o.Event] = []
    real = node.ownership.handle

    def handle(event: o.Event, now: int) -> list[o.Action]:
        seen.append(event)
        return real(event, now)
    node.ownership.handle = handle  # type: ignore[method-assign]
    return seen


def feed_membership(node: NodeCore, *actions: m.Action) -> list[n.Action]:
    out: list[n.Action] = []
    node._membership_out(list(actions), out)
    return out


def peer_events(seen: list[o.Event]) -> list[o.Event]:
    return [e for e in seen if not isinstance(e, (o.Probed, o.Tick))]


def test_ownership_inputs_wait_for_the_start_up_probe_and_comm_up_says_whether_the_peer_is_alive() -> None:
    node = core()
    seen = recording(node)
    node.membership.nodes["n2"].status = "active"
    feed_membership(node, m.CommUp(), m.NodeChanged("n2", "dead"))
    assert seen == []  # nothing before the start-up probe
    node.handle(o.Probed(frozenset()), 10)
    assert peer_events(seen) == [o.CommUp(peer_alive=True), o.PeerDied("n2")]


def test_comm_up_with_the_peer_dead() -> None:
    node = core()
    seen = recording(node)
    node.handle(o.Probed(frozenset()), 0)
    node.membership.nodes["n2"].status = "dead"
    feed_membership(node, m.CommUp())
    assert peer_events(seen) == [o.CommUp(peer_alive=False)]


def test_death_then_a_restart_is_one_join_and_a_healed_partition_says_so() -> None:
    node = core()
    seen = recording(node)
    node.handle(o.Probed(frozenset()), 0)
    node.membership.nodes["n2"].status = "active"
    feed_membership(node, m.CommUp())
    feed_membership(node, m.NodeChanged("n2", "dead"), m.NodeChanged("n2", "dead"))
    feed_membership(node, m.PeerRestarted("n2", 9), m.NodeChanged("n2", "init"))
    feed_membership(node, m.NodeChanged("n2", "dead"), m.PeerReturned("n2"), m.NodeChanged("n2", "active"))
    feed_membership(node, m.NodeChanged("n3", "dead"), m.LinkChanged("n2", "eth0", False))
    assert peer_events(seen) == [o.CommUp(True), o.PeerDied("n2"), o.PeerJoined("n2"), o.PeerDied("n2"),
                                 o.PeerJoined("n2", after_partition=True)]


def test_peer_messages_first_field_wins_binary_left_out_other_services_and_nodes_apart() -> None:
    node = core(service_types=frozenset({"hbd_outdate"}))
    seen = recording(node)
    node.handle(o.Probed(frozenset()), 0)
    message = Message((("t", "resource"), ("src", "n2"), ("srcuuid", b"\x01\x02"), ("t", "other")))
    out = feed_membership(node, m.Deliver(message), m.Deliver(Message((("t", "resource"), ("src", "n3")))),
                          m.Deliver(Message((("t", "hbd_outdate"), ("src", "n2"), ("rsc", "r0")))))
    assert peer_events(seen) == [o.Received("n2", {"t": "resource", "src": "n2"})]
    assert out == [n.Delivered("n2", {"t": "hbd_outdate", "src": "n2", "rsc": "r0"})]


def test_own_heartbeat_lost_gives_everything_up_then_restarts_after_deadtime_plus_one_second() -> None:
    node = core()
    node.handle(o.Probed(frozenset({"g1"})), 0)
    node.membership.nodes["n2"].status = "dead"
    for action in feed_membership(node, m.CommUp()):  # g2 is taken over from the dead peer
        if isinstance(action, o.StartGroup):
            node.handle(o.GroupStarted(action.key, True), 5)
    out = feed_membership(node, m.LocalHeartbeatLost())
    assert n.Restart(2000) in out
    assert node.ownership.phase == "shutting_down"
    assert any(isinstance(a, o.StopGroup) and a.cause is o.Cause.SHUTDOWN for a in out)
    assert feed_membership(node, m.LocalHeartbeatLost()) == [m.LocalHeartbeatLost()]  # once


class Pair:
    """Two node cores joined by an instant, lossless wire (messages encoded as fields, not bytes)."""

    def __init__(self, **kwargs: Any):
        self.now = 0
        self.nodes = {"n1": core("n1", **kwargs), "n2": core("n2", **kwargs)}
        self.silent: set[str] = set()
        self.out: dict[str, list[tuple[int, n.Action]]] = {"n1": [], "n2": []}
        self.ticks = {"n1": 0, "n2": 0}
        self.results: list[tuple[str, o.Event]] = []  # agents succeed at once
        for name, node in self.nodes.items():
            self.carry(name, node.start(0))
            self.carry(name, node.handle(o.Probed(frozenset()), 0))

    def carry(self, name: str, actions: list[n.Action]) -> None:
        for action in actions:
            self.out[name].append((self.now, action))
            if isinstance(action, m.Send) and name not in self.silent:
                node = self.nodes[name]
                fields = with_control_fields(action.body, Sender(name, b"u" * 16, 1, 3), seq=action.seq,
                                             ts=0, load=None, dest=action.dest)
                for receiver in self.nodes:
                    self.carry(receiver, self.nodes[receiver].handle(n.Heard(Message(tuple(fields)), "eth0"),
                                                                     self.now))
                del node
            elif isinstance(action, o.StartGroup):
                self.results.append((name, o.GroupStarted(action.key, True)))
            elif isinstance(action, o.StopGroup):
                self.results.append((name, o.GroupStopped(action.key, True)))

    def run_until(self, end: int) -> None:
        while True:
            while self.results:
                name, result = self.results.pop(0)
                self.carry(name, self.nodes[name].handle(result, self.now))
            name, node = min(self.nodes.items(), key=lambda kv: kv[1].next_deadline())
            t = node.next_deadline()
            if t > end:
                self.now = end
                return
            self.now = t
            self.ticks[name] += 1
            self.carry(name, node.handle(n.Tick(), t))


def test_the_pre_probe_is_one_deadline_from_the_peers_last_packet_never_a_poll() -> None:
    pair = Pair(probe_groups=frozenset({"g2"}))
    pair.run_until(6000)  # n2 holds g2 and reports it; the start-up deadtime (deadtime + 2 s) is over
    n1 = pair.nodes["n1"]
    assert n1.ownership.peer_view.hold == frozenset({"g2"})
    assert not any(isinstance(a, n.ProbeNow) for _, a in pair.out["n1"])
    pair.silent.add("n2")  # kill -9: n2's packets stop
    last = pair.now - pair.now % 100  # n2's last heartbeat
    timing = probe_timing(1000)
    ticks = pair.ticks["n1"]
    pair.run_until(last + 1000 + 50)
    probes = [(t, a) for t, a in pair.out["n1"] if isinstance(a, n.ProbeNow)]
    assert probes == [(last + 1000 - timing.start_after_ms, n.ProbeNow(frozenset({"g2"}), 200, 80))]
    dead = [t for t, a in pair.out["n1"] if isinstance(a, m.NodeChanged) and a.status == "dead"]
    assert dead and dead[0] >= probes[0][0] + 200 + 80  # the window ends the lead before the verdict
    # n1 woke for its own heartbeats (every 100 ms), the pre-probe and the verdict: no 20 ms poll
    assert pair.ticks["n1"] - ticks <= (1050 // 100) + 4


def test_no_pre_probe_for_a_peer_holding_no_address_and_a_fixed_window_for_tests() -> None:
    pair = Pair(probe_groups=frozenset({"g1"}))  # n2 holds g2, which has no address
    pair.run_until(6000)
    pair.silent.add("n2")
    pair.run_until(8000)
    assert not any(isinstance(a, n.ProbeNow) for _, a in pair.out["n1"])
    fixed = Pair(probe_groups=frozenset({"g2"}), window_ms=20, lead_ms=10)
    fixed.run_until(6000)
    fixed.silent.add("n2")
    fixed.run_until(8000)
    assert [a for _, a in fixed.out["n1"] if isinstance(a, n.ProbeNow)] == [n.ProbeNow(frozenset({"g2"}), 20, 10)]


def test_the_pre_probe_is_on_time_when_the_peers_start_up_deadtime_ends() -> None:
    """The peer is judged by deadtime + 2 s at first; the deadline follows its advertised deadtime."""
    pair = Pair(probe_groups=frozenset({"g2"}))
    pair.run_until(1000)
    pair.silent.add("n2")  # silent while its start-up deadtime (3 s) is advertised
    pair.run_until(5000)
    probes = [t for t, a in pair.out["n1"] if isinstance(a, n.ProbeNow)]
    last = 1000
    assert probes and last + 3000 - 280 - 100 <= probes[0] <= last + 3000 - 280


def test_deadlines_are_whole_milliseconds_after_the_last_step() -> None:
    node = core()
    node.start(0)
    for t in (0, 1, 50, 99, 100, 101):
        node.handle(n.Tick(), t)
        deadline = node.next_deadline()
        assert isinstance(deadline, int) and deadline > t
