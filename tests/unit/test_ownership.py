"""Scenario tests of the ownership core, named after Heartbeat's observable behaviours (heartbeat.md §11)
or after the deliberate improvement hbd makes. Two cores exchange messages at once and in order; agents
succeed unless a test says otherwise.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import pytest

from hbd.core.holdings import GroupInfo, Topology
from hbd.core.ownership import Ownership
from hbd.core.ownership_types import (
    AdminReply, AdminRequest, CommUp, Fence, Fenced, GroupStarted, GroupStopped, Log, PeerDied, PeerJoined, Policy,
    Probed, Received, Send, ShutdownComplete, ShutdownRequested, StartGroup, StopFailedForGood, StopGroup, Tick,
)

HBD_FIELDS = ("hbd_groups", "hbdver", "hbd_ask", "hbd_rsc")


@dataclass
class Pair:
    groups: tuple[tuple[str, str], ...] = (("g1", "n1"), ("g2", "n2"))
    policy: Policy = field(default_factory=Policy)
    heartbeat_peer: str | None = None  # this node's messages lose hbd's extension fields
    words_only: bool = False  # both nodes' messages lose them: each reads the other's holdings as a word

    def __post_init__(self) -> None:
        topo = Topology(tuple(GroupInfo(k, p) for k, p in self.groups))
        self.cores = {n: Ownership(n, self.other(n), topo, self.policy) for n in ("n1", "n2")}
        self.now = 0
        self.inbox: deque[tuple[str, dict[str, str]]] = deque()
        self.agents: deque[tuple[str, str, str]] = deque()
        self.logs: dict[str, list[str]] = {"n1": [], "n2": []}
        self.sent: dict[str, list[dict[str, str]]] = {"n1": [], "n2": []}
        self.other_actions: dict[str, list[object]] = {"n1": [], "n2": []}
        self.started: dict[str, list[str]] = {"n1": [], "n2": []}
        self.stopped: dict[str, list[str]] = {"n1": [], "n2": []}
        self.up = {"n1": True, "n2": True}
        self.connected = True
        self.fail_start: set[tuple[str, str]] = set()
        self.fail_stop: set[tuple[str, str]] = set()
        self.seq = {"n1": 0, "n2": 0}

    @staticmethod
    def other(n: str) -> str:
        return "n2" if n == "n1" else "n1"

    def feed(self, node: str, event: object) -> None:
        if not self.up[node]:
            return
        for action in self.cores[node].handle(event, self.now):  # type: ignore[arg-type]
            if isinstance(action, Send):
                fields = dict(action.fields)
                if node == self.heartbeat_peer or self.words_only:
                    fields = {k: v for k, v in fields.items() if k not in HBD_FIELDS}
                self.seq[node] += 1
                fields["seq"] = f"{self.seq[node]:x}"
                self.sent[node].append(fields)
                if self.connected and self.up[self.other(node)]:
                    self.inbox.append((self.other(node), fields))
            elif isinstance(action, (StartGroup, StopGroup)):
                op = "start" if isinstance(action, StartGroup) else "stop"
                self.agents.append((node, op, action.key))
            elif isinstance(action, Log):
                self.logs[node].append(f"{action.level}: {action.text}")
            else:
                self.other_actions[node].append(action)

    def run(self, agents: bool = True) -> None:
        for _ in range(2000):
            if self.inbox:
                dst, fields = self.inbox.popleft()
                self.feed(dst, Received(self.other(dst), fields))
            elif agents and self.agents:
                node, op, key = self.agents.popleft()
                if not self.up[node]:
                    continue
                if op == "start":
                    ok = (node, key) not in self.fail_start
                    if ok:
                        self.started[node].append(key)
                    self.feed(node, GroupStarted(key, ok, f"{key}:resource"))
                else:
                    ok = (node, key) not in self.fail_stop
                    if ok:
                        self.stopped[node].append(key)
                    self.feed(node, GroupStopped(key, ok))
            else:
                return
        raise AssertionError("no quiescence after 2000 steps")

    def advance(self, ms: int) -> None:
        """Let time pass in steps, with the ticks each core asks for."""
        end = self.now + ms
        for _ in range(10_000):
            deadlines = [d for n in ("n1", "n2") if self.up[n] and (d := self.cores[n].next_deadline(self.now))]
            nxt = min([d for d in deadlines if d <= end], default=None)
            if nxt is None:
                break
            self.now = nxt
            for n in ("n1", "n2"):
                self.feed(n, Tick())
            self.run()
        self.now = end

    def boot_both(self) -> None:
        for n in ("n1", "n2"):
            self.feed(n, Probed(frozenset()))
        self.feed("n1", CommUp(True))
        self.feed("n2", CommUp(True))
        self.run()

    def held(self, node: str) -> list[str]:
        core = self.cores[node]
        return core.topology.ordered(core.held)

    def replies(self, node: str) -> list[AdminReply]:
        return [a for a in self.other_actions[node] if isinstance(a, AdminReply)]

    def kill(self, node: str) -> None:
        """Power off: the peer learns of it only through a PeerDied event."""
        self.up[node] = False
        self.inbox = deque((d, f) for d, f in self.inbox if d != node)


def _die_and_return(p: Pair, node: str) -> None:
    """Both up; `node` powers off, the peer takes over, then `node` boots again and joins."""
    peer = p.other(node)
    p.boot_both()
    p.kill(node)
    p.feed(peer, PeerDied(node))
    p.run()
    assert p.held(peer) == ["g1", "g2"]
    p.up[node] = True
    p.cores[node] = Ownership(node, peer, p.cores[peer].topology, p.policy)
    p.feed(node, Probed(frozenset()))
    p.feed(peer, PeerJoined(node))
    p.feed(node, CommUp(True))
    p.run()


def test_two_hbd_nodes_starting_together_take_their_own_groups_at_once() -> None:
    """Behaviour 17, improved: Heartbeat waits RQSTDELAY (10 s); two hbd nodes do not."""
    p = Pair()
    p.boot_both()
    assert p.held("n1") == ["g1"] and p.held("n2") == ["g2"]
    assert p.now == 0


def test_with_a_heartbeat_peer_a_simultaneous_start_waits_rqstdelay() -> None:
    """Behaviour 17: both starting, the peer unstable and without hbd's exact report: wait 10 s."""
    p = Pair(heartbeat_peer="n2")
    p.feed("n1", Probed(frozenset()))
    p.feed("n2", Probed(frozenset()))
    p.feed("n1", CommUp(True))
    p.run()
    assert p.held("n1") == []  # n2 has not reported stable yet
    p.advance(9_999)
    assert p.held("n1") == []
    p.advance(2)
    assert p.held("n1") == ["g1"]


def test_alone_at_initdead_takes_every_group() -> None:
    """Behaviour 16: a silent peer declared dead at initdead: peer groups via takeover, own groups too."""
    p = Pair()
    p.up["n2"] = False
    p.feed("n1", Probed(frozenset()))
    p.feed("n1", CommUp(False))
    p.run()
    assert p.held("n1") == ["g1", "g2"]
    assert "WARN: No STONITH device configured." in p.logs["n1"]
    assert "info: Resources being acquired from n2." in p.logs["n1"]


def test_takeover_on_peer_death() -> None:
    p = Pair()
    p.boot_both()
    p.kill("n2")
    p.feed("n1", PeerDied("n2"))
    p.run()
    assert p.held("n1") == ["g1", "g2"]


def test_groups_are_never_started_while_the_live_peer_has_not_reported() -> None:
    """The start gate: a live peer with unknown holdings blocks every start."""
    p = Pair()
    p.feed("n1", Probed(frozenset()))
    p.feed("n1", CommUp(True))  # n2 alive, but its report never arrives
    p.inbox.clear()
    p.run()
    assert p.started["n1"] == []


def test_graceful_shutdown_releases_in_reverse_order_and_the_peer_takes_over_at_once() -> None:
    """Behaviour 22: release, shutdone, immediate takeover, later 'gave up resources' without STONITH."""
    p = Pair(groups=(("g1", "n1"), ("g3", "n1"), ("g2", "n2")))
    p.boot_both()
    assert p.held("n1") == ["g1", "g3"]
    p.feed("n1", ShutdownRequested())
    p.run()
    assert p.stopped["n1"] == ["g3", "g1"]
    assert any(f.get("t") == "shutdone" for f in p.sent["n1"])
    assert any(isinstance(a, ShutdownComplete) for a in p.other_actions["n1"])
    assert p.held("n2") == ["g1", "g3", "g2"]
    assert "info: Received shutdown notice from 'n1'." in p.logs["n2"]
    p.kill("n1")
    p.feed("n2", PeerDied("n1"))
    assert "info: Dead node n1 gave up resources." in p.logs["n2"]
    assert not any("STONITH" in line for line in p.logs["n2"])


def test_auto_failback_on_returns_groups_to_the_returning_preferred_node() -> None:
    """Behaviour 23."""
    p = Pair()
    _die_and_return(p, "n1")
    assert p.held("n1") == ["g1"] and p.held("n2") == ["g2"]
    assert "info: n2 wants to go standby [foreign]" in p.logs["n1"]


def test_auto_failback_off_leaves_the_groups_where_they_are() -> None:
    """Behaviour 24."""
    p = Pair(policy=Policy(auto_failback="off"))
    _die_and_return(p, "n1")
    assert p.held("n1") == [] and p.held("n2") == ["g1", "g2"]


@pytest.mark.parametrize("word,moved", [("all", ["g1"]), ("local", ["g1"]), ("foreign", []), ("failback", [])])
def test_standby_moves_the_named_groups_to_the_peer(word: str, moved: list[str]) -> None:
    """Behaviour 25: standby with no argument is all; failback is foreign."""
    p = Pair()
    p.boot_both()
    p.feed("n1", AdminRequest("standby", word, 7))
    p.run()
    assert p.held("n1") == [k for k in ["g1"] if k not in moved]
    assert all(k in p.held("n2") for k in moved)
    (reply,) = p.replies("n1")
    assert reply.ok and reply.request_id == 7


def test_standby_never_starts_before_the_release_is_confirmed() -> None:
    p = Pair()
    p.boot_both()
    p.feed("n1", AdminRequest("standby", "all", 1))
    # Deliver messages but hold back the giver's stop: the taker must not start anything yet.
    for _ in range(10):
        if p.inbox:
            dst, fields = p.inbox.popleft()
            p.feed(dst, Received(p.other(dst), fields))
    assert ("n1", "stop", "g1") in p.agents
    assert "g1" not in p.cores["n2"].held
    p.run()
    assert p.held("n2") == ["g1", "g2"]


def test_standby_without_a_peer_fails_at_once_and_keeps_the_resources() -> None:
    """Behaviour 25, improved: Heartbeat cancels silently after 10 s; hbd answers at once."""
    p = Pair()
    p.boot_both()
    p.kill("n2")
    p.feed("n1", PeerDied("n2"))
    p.run()
    p.feed("n1", AdminRequest("standby", "all", 3))
    (reply,) = p.replies("n1")
    assert not reply.ok and "n2 is not active" in reply.text
    assert p.held("n1") == ["g1", "g2"]


def test_standby_unanswered_is_cancelled_after_ten_seconds() -> None:
    p = Pair(heartbeat_peer="n2")
    p.boot_both()
    p.advance(10_001)
    p.connected = False  # the request is lost
    p.feed("n1", AdminRequest("standby", "all", 4))
    p.advance(10_001)
    (reply,) = p.replies("n1")
    assert not reply.ok
    assert "WARN: No reply to standby request.  Standby request cancelled." in p.logs["n1"]
    assert p.held("n1") == ["g1"]


def test_takeover_local_makes_the_peer_go_standby_foreign() -> None:
    """Behaviour 26."""
    p = Pair()
    p.boot_both()
    p.feed("n1", AdminRequest("standby", "all", 1))
    p.run()
    assert p.held("n2") == ["g1", "g2"]
    p.feed("n1", AdminRequest("takeover", "local", 2))
    p.run()
    assert p.held("n1") == ["g1"] and p.held("n2") == ["g2"]
    assert "info: n1 requests takeover [local]: going standby [foreign]" in p.logs["n2"]
    assert [r.ok for r in p.replies("n1") if r.request_id == 2] == [True]


def test_takeover_failback_returns_only_our_own_groups() -> None:
    """Behaviour 26, fixed: Heartbeat's hb_takeover failback made the peer give up ALL groups."""
    p = Pair()
    p.boot_both()
    p.feed("n1", AdminRequest("standby", "all", 1))
    p.run()
    p.feed("n1", AdminRequest("takeover", "failback", 2))
    p.run()
    assert p.held("n1") == ["g1"] and p.held("n2") == ["g2"]


def test_a_failed_start_hands_exactly_that_group_to_the_peer() -> None:
    """Behaviour 20, fixed: Heartbeat chose the wrong set and could leave the group down everywhere."""
    p = Pair(groups=(("g1", "n1"), ("g3", "n1"), ("g2", "n2")))
    p.fail_start.add(("n1", "g3"))
    p.boot_both()
    assert p.held("n1") == ["g1"]
    assert p.held("n2") == ["g3", "g2"]
    assert any("Giving up resources due to failure of g3:resource" in line for line in p.logs["n1"])


def test_a_group_failing_on_both_nodes_stays_down_and_is_retried_later() -> None:
    p = Pair(policy=Policy(failed_retry_ms=30_000))
    p.fail_start.update({("n1", "g1"), ("n2", "g1")})
    p.boot_both()
    assert "g1" not in p.held("n1") + p.held("n2")
    assert any("failed to start on both nodes" in line for line in p.logs["n1"] + p.logs["n2"])
    p.fail_start.clear()
    p.advance(30_001)
    assert p.held("n1") == ["g1"]


def test_a_failed_stop_is_retried_then_held_as_failed_without_a_reboot() -> None:
    """Behaviour 21, changed: 10 retries 1 s apart, then the group is held (it may run) and escalated."""
    p = Pair(policy=Policy(stop_retries=10, stop_retry_ms=1000))
    p.boot_both()
    p.fail_stop.add(("n1", "g1"))
    p.feed("n1", AdminRequest("standby", "all", 9))
    p.run()
    p.advance(12_000)
    retries = [line for line in p.logs["n1"] if line.startswith("info: Retrying failed stop operation [g1]")]
    assert len(retries) == 10
    assert p.cores["n1"].view().groups["g1"].value == "failed"
    assert any(isinstance(a, StopFailedForGood) for a in p.other_actions["n1"])
    assert "g1" not in p.cores["n2"].held  # never started while it may still run on n1
    (reply,) = p.replies("n1")
    assert not reply.ok


def test_with_fencing_nothing_is_taken_over_before_the_peer_is_fenced() -> None:
    p = Pair(policy=Policy(fencing=True, fence_retry_ms=5000))
    p.boot_both()
    p.kill("n2")
    p.feed("n1", PeerDied("n2"))
    p.run()
    assert any(isinstance(a, Fence) for a in p.other_actions["n1"])
    assert p.held("n1") == ["g1"]
    p.feed("n1", Fenced("n2", False))
    p.run()
    assert p.held("n1") == ["g1"]
    p.advance(5001)
    assert sum(isinstance(a, Fence) for a in p.other_actions["n1"]) == 2  # retried
    p.feed("n1", Fenced("n2", True))
    p.run()
    assert p.held("n1") == ["g1", "g2"]


def partition_and_heal(p: Pair) -> None:
    """Both up; a partition makes each take every group; then it heals."""
    p.boot_both()
    p.connected = False
    p.feed("n1", PeerDied("n2"))
    p.feed("n2", PeerDied("n1"))
    p.run()
    assert p.held("n1") == ["g1", "g2"] and p.held("n2") == ["g1", "g2"]
    p.connected = True
    p.feed("n1", PeerJoined("n2", after_partition=True))
    p.feed("n2", PeerJoined("n1", after_partition=True))
    p.run()


def test_partition_heal_leaves_each_group_on_its_preferred_node() -> None:
    """Behaviour 27, improved: Heartbeat restarts both nodes (about 20 s outage); hbd releases the duplicates."""
    p = Pair()
    partition_and_heal(p)
    assert p.held("n1") == ["g1"] and p.held("n2") == ["g2"]
    assert "CRIT: Cluster node n2 returning after partition." in p.logs["n1"]
    assert p.stopped["n1"] == ["g2"] and p.stopped["n2"] == ["g1"]


def test_a_restarted_daemon_keeps_what_it_finds_running_and_the_peer_does_not_start_it() -> None:
    """After kill -9 of the daemon, its resources still run: the new daemon reports them as held."""
    p = Pair()
    p.boot_both()
    p.cores["n1"] = Ownership("n1", "n2", p.cores["n2"].topology, p.policy)
    p.feed("n2", PeerJoined("n1"))
    p.feed("n1", Probed(frozenset({"g1"})))
    p.feed("n1", CommUp(True))
    p.run()
    assert p.held("n1") == ["g1"] and p.held("n2") == ["g2"]
    assert p.started["n1"] == ["g1"] and p.started["n2"] == ["g2"]  # nothing started twice
    assert "WARN: Resource group g1 is already running here: keeping it" in p.logs["n1"]


def test_a_stale_report_does_not_override_a_newer_one() -> None:
    p = Pair()
    p.boot_both()
    core = p.cores["n1"]
    core.handle(Received("n2", {"t": "resource", "rsc_hold": "all", "hbd_groups": "g1 g2", "isstable": "1",
                                "seq": "ff"}), p.now)
    core.handle(Received("n2", {"t": "resource", "rsc_hold": "none", "hbd_groups": "", "isstable": "1",
                                "seq": "fe"}), p.now)
    assert core.peer_view.hold == frozenset({"g1", "g2"})


# --- a Heartbeat peer: holdings as words, reports that announce rather than state, and reordering ------


def _deliver_one(p: Pair, dst: str, t: str, info: str | None = None) -> dict[str, str]:
    """Deliver the first queued message of type `t` (and `info`) for `dst`, out of turn."""
    for i, (d, fields) in enumerate(p.inbox):
        if d == dst and fields.get("t") == t and (info is None or fields.get("info") == info):
            del p.inbox[i]
            p.feed(dst, Received(p.other(dst), fields))
            return fields
    raise AssertionError(f"no {t} {info or ''} queued for {dst}: {list(p.inbox)}")


def test_a_heartbeat_givers_done_may_overtake_its_standby_report() -> None:
    """Retransmission or a second medium can deliver `done` before the giver's `resource info=standby`."""
    p = Pair(heartbeat_peer="n1")
    p.boot_both()
    p.feed("n1", AdminRequest("standby", "all", 1))
    _deliver_one(p, "n2", "ask_resources", "me")
    _deliver_one(p, "n1", "ask_resources", "other")
    late = [(d, f) for d, f in p.inbox if f.get("info") == "standby"]
    assert late, list(p.inbox)
    p.inbox = deque((d, f) for d, f in p.inbox if f.get("info") != "standby")
    p.run()  # n1 releases g1 and sends done; n2 must take g1 on `done` alone
    p.inbox.extend(late)
    p.run()
    assert p.held("n1") == [] and p.held("n2") == ["g1", "g2"]
    assert p.stopped["n2"] == []


def test_a_heartbeat_peers_shutdown_report_is_not_taken_as_a_release() -> None:
    """Heartbeat sends `rsc_hold=none isstable=0 info=shutdown` before it stops anything."""
    p = Pair(heartbeat_peer="n2", policy=Policy(auto_failback="off"))
    _die_and_return(p, "n1")  # n2 now holds both groups, n1 none
    assert p.held("n2") == ["g1", "g2"] and p.held("n1") == []
    p.feed("n2", ShutdownRequested())
    p.run(agents=False)  # n1 has the shutdown report; n2's stops have not finished
    assert not [a for a in p.agents if a[0] == "n1"]
    assert p.cores["n1"].peer_view.hold == frozenset({"g1", "g2"})
    p.run()
    assert p.held("n1") == ["g1", "g2"]


def test_a_failed_release_is_never_reported_done_to_a_heartbeat_taker() -> None:
    """Heartbeat's taker starts the whole set on `done`: a group still held here must not be in it."""
    p = Pair(heartbeat_peer="n2", policy=Policy(stop_retries=1, stop_retry_ms=100))
    p.boot_both()
    p.fail_stop.add(("n1", "g1"))
    p.feed("n1", AdminRequest("standby", "all", 3))
    p.run()
    p.advance(1_000)
    assert not [f for f in p.sent["n1"] if f.get("t") == "ask_resources" and f.get("info") == "done"]
    assert "g1" not in p.cores["n2"].held
    assert any("could not be released" in line for line in p.logs["n1"])
    (reply,) = p.replies("n1")
    assert not reply.ok and "g1" in reply.text


def test_holding_part_of_a_word_set_takes_the_rest() -> None:
    """A Heartbeat peer reads "g1 g2 of g1 g2 g3" as `all` and will not start g3: so this node does."""
    p = Pair(groups=(("g1", "n1"), ("g2", "n2"), ("g3", "n1")), policy=Policy(auto_failback="off"), words_only=True)
    p.boot_both()
    p.run()
    assert p.held("n1") == ["g1", "g3"] and p.held("n2") == ["g2"]
    p.kill("n1")
    p.feed("n2", PeerDied("n1"))
    node, op, key = p.agents.popleft()  # n2 takes g1 over; n1 returns before g3 is started
    assert (node, op, key) == ("n2", "start", "g1")
    p.up["n1"] = True
    p.cores["n1"] = Ownership("n1", "n2", p.cores["n2"].topology, p.policy)
    p.feed("n1", Probed(frozenset()))
    p.feed("n2", PeerJoined("n1"))  # drops the queued takeover of g3
    p.feed("n2", GroupStarted("g1", True, "g1:resource"))
    p.feed("n1", CommUp(True))
    p.run()
    assert p.held("n1") == [] and p.held("n2") == ["g1", "g2", "g3"]
