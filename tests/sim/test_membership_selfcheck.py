"""The own-heartbeat check (heartbeat.md §7.8, hbd/core/own_heartbeat.py): a stalled daemon that sent nothing
does not judge itself dead when it wakes; a daemon whose sent packets stop coming back does."""
from __future__ import annotations

from hbd.config.model import Timing
from hbd.core.membership import Membership, MembershipConfig
from hbd.core.membership_events import LocalHeartbeatLost, Log, Received, Send, Tick
from hbd.core.messages import Message, Sender, with_control_fields

TIMING = Timing(keepalive_ms=10, deadtime_ms=50, warntime_ms=30, initdead_ms=100)


def looped_back(send: Send, gen: int = 7) -> Message:
    sender = Sender("alice", b"\0" * 16, gen, 3)
    return Message(tuple(with_control_fields(send.body, sender, seq=send.seq, ts=0, load=None)))


def started_core() -> tuple[Membership, float]:
    """alice up, her packets coming back on eth0 for 1 s."""
    core = Membership(MembershipConfig("alice", ("alice", "bob"), TIMING), 0.0, generation=7)
    pending = [a for a in core.start(0.0) if isinstance(a, Send)]
    now = 0.0
    while now < 1.0:
        for send in pending:
            core.handle(Received(looped_back(send), "eth0"), now + 0.0001)
        now = core.wakeup_at()
        pending = [a for a in core.handle(Tick(), now) if isinstance(a, Send) and a.seq is not None]
        assert not any(isinstance(a, LocalHeartbeatLost) for a in pending)
    for send in pending:
        core.handle(Received(looped_back(send), "eth0"), now + 0.0001)
    return core, now


def lost(actions: list) -> bool:
    return any(isinstance(a, LocalHeartbeatLost) for a in actions)


def test_stalled_loop_that_sent_nothing_does_not_judge_itself_dead() -> None:
    core, now = started_core()
    woke = now + 0.167  # the loop stalled 167 ms (> deadtime 50 ms) with every sent packet back
    out = core.handle(Tick(), woke)
    assert not lost(out), [a for a in out if isinstance(a, Log)]
    sends = [a for a in out if isinstance(a, Send) and dict(a.body).get("t") == "status"]
    assert sends, "the wake-up sends the overdue heartbeat"
    core.handle(Received(looped_back(sends[0]), "eth1"), woke + 0.001)  # it comes back on any medium
    assert not lost(core.handle(Tick(), woke + 0.2))


def test_sent_heartbeats_not_coming_back_for_deadtime_is_a_lost_heartbeat() -> None:
    core, now = started_core()
    verdict = None
    t = now
    while t < now + 0.5 and verdict is None:  # keep sending; nothing comes back any more
        t = core.wakeup_at()
        if lost(core.handle(Tick(), t)):
            verdict = t
    assert verdict is not None
    # the first unreturned packet went out at most one keepalive after `now`: the bound is deadtime after it
    assert now + 0.050 <= verdict <= now + 0.010 + 0.050 + 1e-9
    assert Log("ERROR", "No local heartbeat. Forcing restart.") in core.handle(Tick(), verdict) or core.local_lost


def test_late_own_packet_waiting_in_a_queue_counts_as_back() -> None:
    core, now = started_core()
    sends = [a for a in core.handle(Tick(), core.wakeup_at()) if isinstance(a, Send) and a.seq is not None]
    # the runtime reads the receive queues before a verdict: the packet, read 120 ms late, arrives first
    core.handle(Received(looped_back(sends[-1]), "eth0"), now + 0.13)
    assert not lost(core.handle(Tick(), now + 0.13))
