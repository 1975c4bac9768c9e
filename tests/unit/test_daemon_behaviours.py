"""heartbeat.md §11 behaviours 16-28 as the ownership core decides them for the daemon (two cores wired
back to back, agents that succeed at once unless told otherwise, a virtual clock). Where hbd deliberately
differs from Heartbeat the test names the difference and checks hbd's behaviour. Behaviours 14, 15 and
28 (membership timing, restart detection) are in tests/sim/test_membership_core.py and
tests/unit/test_daemon_bridge.py; 18 and 20's undo in tests/unit/test_daemon_groups.py; 22-24 in the lab."""
from __future__ import annotations

from dataclasses import dataclass, field

from hbd.core import ownership_types as o
from hbd.core.holdings import GroupInfo, Topology
from hbd.core.ownership import Ownership

TOPO = Topology((GroupInfo("ipA", "n1"), GroupInfo("ipB", "n2")))


@dataclass
class Pair:
    """Two cores; `connected` carries messages at once; group operations complete at once."""

    policy: o.Policy = field(default_factory=o.Policy)
    heartbeat_words_only: bool = False  # messages carry no hbd extensions: each looks like Heartbeat 3.0.6
    fail_start: set[tuple[str, str]] = field(default_factory=set)  # (node, key)
    fail_stop: set[tuple[str, str]] = field(default_factory=set)
    now: int = 0
    connected: bool = True

    def __post_init__(self) -> None:
        self.cores = {"n1": Ownership("n1", "n2", TOPO, self.policy), "n2": Ownership("n2", "n1", TOPO, self.policy)}
        self.seq = {"n1": 0, "n2": 0}
        self.logs: dict[str, list[str]] = {"n1": [], "n2": []}
        self.replies: list[o.AdminReply] = []
        self.ops: list[tuple[str, str, str]] = []  # (node, start|stop, key)

    def feed(self, node: str, event: o.Event) -> None:
        queue = [(node, event)]
        while queue:
            at, ev = queue.pop(0)
            for action in self.cores[at].handle(ev, self.now):
                queue.extend(self._act(at, action))

    def _act(self, at: str, action: o.Action) -> list[tuple[str, o.Event]]:
        other = "n2" if at == "n1" else "n1"
        if isinstance(action, o.Log):
            self.logs[at].append(f"{action.level}: {action.text}")
        elif isinstance(action, o.AdminReply):
            self.replies.append(action)
        elif isinstance(action, o.Send) and self.connected:
            self.seq[at] += 1
            fields = {k: v for k, v in action.fields.items()
                      if not (self.heartbeat_words_only and k in ("hbd_groups", "hbdver", "hbd_ask"))}
            return [(other, o.Received(at, {**fields, "seq": f"{self.seq[at]:x}"}))]
        elif isinstance(action, o.StartGroup):
            self.ops.append((at, "start", action.key))
            return [(at, o.GroupStarted(action.key, (at, action.key) not in self.fail_start, "x start failed"))]
        elif isinstance(action, o.StopGroup):
            self.ops.append((at, "stop", action.key))
            return [(at, o.GroupStopped(action.key, (at, action.key) not in self.fail_stop))]
        return []

    def start_both(self) -> None:
        for node in ("n1", "n2"):
            self.feed(node, o.Probed(frozenset()))
        for node in ("n1", "n2"):
            self.feed(node, o.CommUp(peer_alive=True))

    def advance(self, ms: int, step: int = 100) -> None:
        end = self.now + ms
        while self.now < end:
            self.now += step
            for node in ("n1", "n2"):
                self.feed(node, o.Tick())

    def held(self, node: str) -> set[str]:
        return set(self.cores[node].held)


def test_16_silent_peer_at_start_survivor_takes_every_group() -> None:
    p = Pair()
    p.feed("n1", o.Probed(frozenset()))
    p.feed("n1", o.CommUp(peer_alive=False))
    assert p.held("n1") == {"ipA", "ipB"}
    assert "WARN: No STONITH device configured." in p.logs["n1"]
    assert "info: Resources being acquired from n2." in p.logs["n1"]


def test_17_simultaneous_start_between_hbd_nodes_needs_no_rqstdelay() -> None:
    p = Pair()
    p.start_both()
    assert p.held("n1") == {"ipA"} and p.held("n2") == {"ipB"}  # at once, without the clock moving
    assert p.now == 0


def test_17_simultaneous_start_with_a_heartbeat_peer_in_flux_waits_rqstdelay() -> None:
    core = Ownership("n1", "n2", TOPO, o.Policy())
    core.handle(o.Probed(frozenset()), 0)
    core.handle(o.CommUp(peer_alive=True), 0)
    core.handle(o.Received("n2", {"t": "starting", "seq": "5"}), 50)
    actions = core.handle(o.Received("n2", {"t": "resource", "rsc_hold": "none", "rtype": "full",
                                            "isstable": "0", "seq": "6"}), 100)
    assert not any(isinstance(a, o.StartGroup) for a in actions)  # Heartbeat in its own RQSTDELAY
    assert core.handle(o.Tick(), core.policy.rqstdelay_ms - 1) == [] and core.held == frozenset()
    actions = core.handle(o.Tick(), core.policy.rqstdelay_ms)
    assert o.StartGroup("ipA", "preferred node, held by nobody", o.Cause.PREFERRED) in actions


def test_17_an_idle_hbd_node_reports_stable_so_a_starting_peer_need_not_wait() -> None:
    # Heartbeat reports isstable=0 while it waits RQSTDELAY, so two Heartbeat nodes both wait 10 s; an idle
    # hbd node reports isstable=1, so the peer (hbd or Heartbeat) takes its own groups at once
    p = Pair(heartbeat_words_only=True)
    p.start_both()
    assert p.now == 0 and p.held("n1") == {"ipA"} and p.held("n2") == {"ipB"}


def test_20_failed_start_hands_exactly_that_group_to_the_peer() -> None:
    p = Pair(fail_start={("n2", "ipB")})
    p.start_both()
    p.advance(500)
    assert "CRIT: Giving up resources due to failure of x start failed" in p.logs["n2"]
    assert p.held("n1") == {"ipA", "ipB"} and p.held("n2") == set()  # ipA was never disturbed
    assert ("n1", "stop", "ipA") not in p.ops


def test_21_failed_stop_is_retried_then_escalated_without_a_reboot() -> None:
    p = Pair(fail_stop={("n1", "ipA")})
    p.start_both()
    p.feed("n1", o.AdminRequest("standby", "local", 7))
    p.advance(p.policy.stop_retries * p.policy.stop_retry_ms + 2000)
    assert sum("Retrying failed stop operation [ipA]" in line for line in p.logs["n1"]) == p.policy.stop_retries
    assert p.cores["n1"].view().groups["ipA"] is o.GroupState.FAILED  # may still run here: still counts as held
    assert "ipA" not in p.held("n2")  # so the peer never starts it
    assert any(r.request_id == 7 and not r.ok for r in p.replies)


def test_25_standby_without_argument_moves_all_and_failback_means_foreign() -> None:
    p = Pair()
    p.start_both()
    p.feed("n2", o.AdminRequest("standby", "all", 1))
    assert p.held("n1") == {"ipA", "ipB"} and p.replies[-1].ok
    p.feed("n1", o.AdminRequest("standby", "failback", 2))  # = foreign: only ipB goes back
    assert p.held("n1") == {"ipA"} and p.held("n2") == {"ipB"} and p.replies[-1].ok


def test_25_standby_with_no_peer_is_refused_at_once_not_after_10_s() -> None:
    p = Pair()
    p.feed("n1", o.Probed(frozenset()))
    p.feed("n1", o.CommUp(peer_alive=False))
    p.feed("n1", o.AdminRequest("standby", "all", 3))
    assert p.replies == [o.AdminReply(3, False, "n2 is not active: nothing can take the resources")]
    assert p.held("n1") == {"ipA", "ipB"}


def test_26_takeover_local_makes_the_peer_give_its_foreign_groups() -> None:
    p = Pair()
    p.start_both()
    p.feed("n1", o.AdminRequest("standby", "all", 1))
    assert p.held("n2") == {"ipA", "ipB"}
    p.feed("n1", o.AdminRequest("takeover", "local", 2))
    assert p.held("n1") == {"ipA"} and p.held("n2") == {"ipB"} and p.replies[-1].ok
    assert "info: n1 requests takeover [local]: going standby [foreign]" in p.logs["n2"]


def test_26_takeover_failback_takes_back_own_groups_only_not_all() -> None:
    # Heartbeat 3.0.6's rc.d/hb_takeover does not map `failback` and hands over everything; hbd gives back
    # the requester's own groups
    p = Pair()
    p.start_both()
    p.feed("n1", o.AdminRequest("standby", "all", 1))
    p.feed("n1", o.AdminRequest("takeover", "failback", 2))
    assert p.held("n1") == {"ipA"} and p.held("n2") == {"ipB"}


def test_27_partition_heal_releases_only_the_non_preferred_copy_without_restarts() -> None:
    p = Pair()
    p.start_both()
    p.connected = False
    p.feed("n1", o.PeerDied("n2"))
    p.feed("n2", o.PeerDied("n1"))
    assert p.held("n1") == p.held("n2") == {"ipA", "ipB"}  # as in Heartbeat, without fencing
    p.connected = True
    p.feed("n1", o.PeerJoined("n2", after_partition=True))
    p.feed("n2", o.PeerJoined("n1", after_partition=True))
    p.advance(1000)
    assert "CRIT: Cluster node n2 returning after partition." in p.logs["n1"]
    assert p.held("n1") == {"ipA"} and p.held("n2") == {"ipB"}
    # each node stopped only the other's group: its own group never stopped (Heartbeat restarts both)
    assert ("n1", "stop", "ipA") not in p.ops and ("n2", "stop", "ipB") not in p.ops


def test_28_restarted_peer_holding_nothing_gets_its_group_back_by_failback() -> None:
    p = Pair()
    p.start_both()
    p.feed("n1", o.PeerDied("n2"))
    assert p.held("n1") == {"ipA", "ipB"}
    p.cores["n2"] = Ownership("n2", "n1", TOPO, p.policy)  # restarted daemon, higher generation
    p.feed("n1", o.PeerJoined("n2"))
    p.feed("n2", o.Probed(frozenset()))
    p.feed("n2", o.CommUp(peer_alive=True))
    p.advance(1000)
    assert p.held("n1") == {"ipA"} and p.held("n2") == {"ipB"}
