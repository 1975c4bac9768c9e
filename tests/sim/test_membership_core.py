"""Membership core behaviours one at a time, on a loss-free simulated network (heartbeat.md §7, §8.4-8.6)."""
from __future__ import annotations

from hbd.config.model import Timing
from hbd.core.membership import Membership, MembershipConfig
from hbd.core.membership_events import (
    CommUp, DropKind, Dropped, LinkChanged, LocalHeartbeatLost, Log, NodeChanged, PeerRestarted, PeerReturned, Received,
    Send, Tick,
)
from hbd.core.messages import Message, Sender, with_control_fields
from simnet import MediumFaults, SimCluster

TIMING = Timing(keepalive_ms=200, deadtime_ms=2000, warntime_ms=1000, initdead_ms=4000)


def cluster(media: int = 2, seed: int = 1) -> SimCluster:
    return SimCluster(["alice", "bob"], TIMING, [MediumFaults() for _ in range(media)], seed)


def message(src: str, body: list, *, seq: int | None, gen: int = 1, dest: str | None = None) -> Message:
    sender = Sender(src, b"\0" * 16, gen, 3)
    return Message(tuple(with_control_fields(body, sender, seq=seq, ts=0, load=None, dest=dest)))


def status(src: str, st: str, seq: int, gen: int = 1, dt: int = 2000) -> Message:
    return message(src, [("t", "status"), ("st", st), ("dt", f"{dt:x}"), ("protocol", "1")], seq=seq, gen=gen)


def test_start_sends_init_then_up_with_startup_dt() -> None:
    core = Membership(MembershipConfig("alice", ("alice", "bob"), TIMING), 100.0, generation=5)
    sends = [a for a in core.start(100.0) if isinstance(a, Send)]
    assert [(s.seq, dict(s.body)["st"], dict(s.body)["dt"]) for s in sends] == [(1, "init", "fa0"), (2, "up", "fa0")]
    later = [a for a in core.handle(Tick(), 105.1) if isinstance(a, Send) and dict(a.body).get("t") == "status"]
    assert dict(later[0].body)["dt"] == "7d0"  # deadtime once the first 5 s are over


def test_two_nodes_come_up_active_with_links_per_medium() -> None:
    sim = cluster()
    sim.boot("alice"), sim.boot("bob")
    sim.run_until(1.0)
    logs = sim.records["alice"].logs()
    assert "info: Local status now set to: 'up'" in logs
    assert "info: Comm_now_up(): updating status to active" in logs
    assert {"info: Link bob:m0 up.", "info: Link bob:m1 up.", "info: Link alice:m0 up."} <= set(logs)
    assert "info: Status update for node bob: status active" in logs
    view = sim.cores["alice"].view(sim.now)
    bob = next(n for n in view.nodes if n.name == "bob")
    assert view.local_status == "active" and bob.status == "active" and all(link.up for link in bob.links)


def test_silent_peer_at_start_is_dead_after_initdead() -> None:
    sim = cluster()
    sim.boot("alice")
    sim.run_until(10.0)
    deaths = [t for t, s in sim.records["alice"].status_changes("bob") if s == "dead"]
    assert deaths == [4.0]
    assert "WARN: node bob: is dead" in sim.records["alice"].logs()
    assert any(isinstance(a, CommUp) for _, a in sim.records["alice"].actions)


def test_cut_one_medium_kills_the_link_not_the_node() -> None:
    sim = cluster()
    sim.boot("alice"), sim.boot("bob")
    sim.run_until(6.0)
    sim.partition("bob", 1)
    sim.run_until(12.0)
    rec = sim.records["alice"]
    assert "info: Link bob:m1 dead." in rec.logs() and "WARN: node bob: is dead" not in rec.logs()
    assert [a for _, a in rec.actions if isinstance(a, LinkChanged) and not a.up] == [LinkChanged("bob", "m1", False)]


def test_cut_both_media_kills_the_node_at_deadtime_then_its_links() -> None:
    sim = cluster()
    sim.boot("alice"), sim.boot("bob")
    sim.run_until(6.0)
    sim.partition("bob")
    last = sim.last_received[("alice", "bob")]
    sim.run_until(12.0)
    rec = sim.records["alice"]
    dead_at = [t for t, s in rec.status_changes("bob") if s == "dead"]
    assert len(dead_at) == 1 and abs(dead_at[0] - (last + 2.0)) < 0.01
    logs = rec.logs()
    i = logs.index("WARN: node bob: is dead")
    assert set(logs[i + 1:i + 3]) == {"info: Link bob:m0 dead.", "info: Link bob:m1 dead."}


def test_partition_heal_is_reported_as_return_not_restart() -> None:
    sim = cluster()
    sim.boot("alice"), sim.boot("bob")
    sim.run_until(6.0)
    sim.partition("bob")
    sim.run_until(10.0)
    sim.heal()
    sim.run_until(12.0)
    rec = sim.records["alice"]
    assert any(isinstance(a, PeerReturned) and a.node == "bob" for _, a in rec.actions)
    assert not any(isinstance(a, PeerRestarted) for _, a in rec.actions)
    logs = rec.logs()
    assert "CRIT: Cluster node bob returning after partition." in logs
    assert any(line.startswith("CRIT: Late heartbeat: Node bob: interval ") and line.endswith("(> deadtime)")
               for line in logs)
    assert rec.status_changes("bob")[-1][1] == "active"


def test_restart_is_detected_by_higher_generation() -> None:
    sim = cluster()
    sim.boot("alice"), sim.boot("bob")
    sim.run_until(6.0)
    sim.power_off("bob")
    sim.run_until(9.0)
    sim.restart("bob")
    sim.run_until(12.0)
    rec = sim.records["alice"]
    assert any(isinstance(a, PeerRestarted) and a.generation == 2 for _, a in rec.actions)
    assert "info: Heartbeat restart on node bob" in rec.logs()
    assert "CRIT: Cluster node bob returning after partition." not in rec.logs()
    changes = [s for _, s in rec.status_changes("bob")]
    after_death = changes[changes.index("dead") + 1:]
    assert after_death[-1] == "active" and after_death == sorted(after_death, key=["init", "up", "active"].index)


def test_late_heartbeat_warning_and_histogram() -> None:
    core = Membership(MembershipConfig("alice", ("alice", "bob"), TIMING), 0.0, generation=1)
    core.start(0.0)
    core.handle(Received(status("bob", "active", 1), "eth0"), 0.1)
    core.handle(Received(status("bob", "active", 2), "eth0"), 0.3)
    out = core.handle(Received(status("bob", "active", 3), "eth0"), 1.5)
    assert Log("WARN", "Late heartbeat: Node bob: interval 1200 ms") in out
    bob = next(n for n in core.view(1.5).nodes if n.name == "bob")
    assert dict(bob.intervals)[200] == 1 and dict(bob.intervals)[1500] == 1


def test_replay_of_lower_generation_is_dropped_and_logged() -> None:
    core = Membership(MembershipConfig("alice", ("alice", "bob"), TIMING), 0.0, generation=1)
    core.start(0.0)
    core.handle(Received(status("bob", "active", 1, gen=7), "eth0"), 0.1)
    out = core.handle(Received(status("bob", "active", 50, gen=6), "eth0"), 0.2)
    assert Dropped(DropKind.OLD_GENERATION, "bob", "eth0",
                   "should_drop_message: attempted replay attack [bob]? [gen = 6, curgen = 7]") in out
    assert not any(isinstance(a, NodeChanged) for a in out)


def test_replayed_copies_do_not_keep_a_silent_peer_alive() -> None:
    core = Membership(MembershipConfig("alice", ("alice", "bob"), TIMING), 0.0, generation=1)
    core.start(0.0)
    captured = status("bob", "active", 1)
    core.handle(Received(captured, "eth0"), 0.1)
    dead = []
    for step in range(1, 60):  # the attacker resends the captured packet every 100 ms for 6 s
        out = core.handle(Received(captured, "eth0"), 0.1 + step * 0.1)
        dead += [a for a in out if isinstance(a, NodeChanged) and a.status == "dead"]
    assert dead == [NodeChanged("bob", "dead")]


def test_lost_packets_are_logged_and_requested_then_filled() -> None:
    core = Membership(MembershipConfig("alice", ("alice", "bob"), TIMING), 0.0, generation=1)
    core.start(0.0)
    core.handle(Received(status("bob", "active", 19), "eth0"), 0.1)
    out = core.handle(Received(status("bob", "active", 21), "eth0"), 0.2)
    assert Log("WARN", "1 lost packet(s) for [bob] [19:21]") in out
    out = core.handle(Tick(), 0.6)
    assert Send((("t", "NS_rexmit"), ("firstseq", "20"), ("lastseq", "20")), None, "bob") in out
    out = core.handle(Received(message("bob", [("t", "resource"), ("rsc_hold", "all")], seq=20), "eth0"), 0.7)
    assert Log("info", "No pkts missing from bob!") in out
    assert any(a.__class__.__name__ == "Deliver" for a in out)


def test_rexmit_request_is_answered_from_history_or_nakked() -> None:
    core = Membership(MembershipConfig("alice", ("alice", "bob"), TIMING), 0.0, generation=1)
    core.start(0.0)
    sent = core.send((("t", "resource"), ("rsc_hold", "local")))
    request = message("bob", [("t", "NS_rexmit"), ("firstseq", str(sent.seq)), ("lastseq", str(sent.seq + 5))],
                      seq=None, dest="alice")
    core.handle(Received(status("bob", "up", 1), "eth0"), 0.1)
    out = core.handle(Received(request, "eth0"), 0.2)
    assert Send(sent.body, sent.seq, None) in out
    assert Log("ERROR", f"Cannot rexmit pkt {sent.seq + 5} for bob: seqno not found") in out
    again = core.handle(Received(request, "eth0"), 0.3)  # within 240 ms: not resent twice
    assert Send(sent.body, sent.seq, None) not in again


def test_reqnodes_is_answered_with_repnodes() -> None:
    core = Membership(MembershipConfig("alice", ("alice", "bob"), TIMING), 0.0, generation=1)
    core.start(0.0)
    out = core.handle(Received(message("bob", [("t", "reqnodes")], seq=1, dest="alice"), "eth0"), 0.1)
    reply = [a for a in out if isinstance(a, Send) and dict(a.body)["t"] == "repnodes"]
    assert reply and reply[0].dest == "bob" and dict(reply[0].body)["nodelist"] == "alice bob "


def test_unknown_node_is_dropped() -> None:
    core = Membership(MembershipConfig("alice", ("alice", "bob"), TIMING), 0.0, generation=1)
    core.start(0.0)
    out = core.handle(Received(status("mallory", "active", 1), "eth0"), 0.1)
    assert Dropped(DropKind.UNKNOWN_NODE, "mallory", "eth0", "process_status_message: bad node [mallory] in message") in out
    assert not any(isinstance(a, (NodeChanged, LinkChanged)) for a in out)


def test_message_for_another_node_counts_for_sequence_only() -> None:
    core = Membership(MembershipConfig("alice", ("alice", "bob", "carol"), TIMING), 0.0, generation=1)
    core.start(0.0)
    out = core.handle(Received(message("bob", [("t", "resource")], seq=1, dest="carol"), "eth0"), 0.1)
    assert not any(a.__class__.__name__ == "Deliver" for a in out)


def test_own_heartbeat_lost_forces_restart() -> None:
    sim = cluster(media=1)
    sim.boot("alice"), sim.boot("bob")
    sim.run_until(3.0)
    sim.partition("alice")
    sim.run_until(8.0)
    rec = sim.records["alice"]
    assert any(isinstance(a, LocalHeartbeatLost) for _, a in rec.actions)
    assert "ERROR: No local heartbeat. Forcing restart." in rec.logs()


def test_retransmitted_filler_refreshes_its_link_with_the_node() -> None:
    core = Membership(MembershipConfig("alice", ("alice", "bob"), TIMING), 0.0, generation=1)
    core.start(0.0)
    core.handle(Received(status("bob", "active", 1), "eth0"), 0.1)
    core.handle(Received(status("bob", "active", 3), "eth0"), 0.2)
    core.handle(Received(message("bob", [("t", "resource")], seq=2), "eth0"), 1.0)  # the resent seq 2
    out = core.handle(Tick(), 2.5)  # 2.3 s after seq 3, but only 1.5 s after the filler
    assert not any(isinstance(a, (LinkChanged, NodeChanged)) for a in out)
    out = core.handle(Tick(), 3.0)
    assert [a for a in out if isinstance(a, (LinkChanged, NodeChanged))] == [
        NodeChanged("bob", "dead"), LinkChanged("bob", "eth0", False)]
