"""Membership actions to ownership events: deaths, joins, restarts, partitions, delivered messages."""
from __future__ import annotations

from hbd.core import membership_events as m
from hbd.core import ownership_types as o
from hbd.core.messages import Message
from hbd.runtime.bridge import Bridge


def msg(**fields: str) -> Message:
    return Message(tuple(fields.items()))


def test_nothing_but_messages_passes_before_comm_up() -> None:
    b = Bridge("n2")
    assert b.translate(m.NodeChanged("n2", "active")) == []
    assert b.translate(m.PeerRestarted("n2", 7)) == []
    assert b.translate(m.Deliver(msg(t="starting", src="n2", seq="3"))) == [
        o.Received("n2", {"t": "starting", "src": "n2", "seq": "3"})]


def test_comm_up_says_whether_the_peer_is_alive() -> None:
    assert Bridge("n2").translate(m.CommUp(), "active") == [o.CommUp(peer_alive=True)]
    assert Bridge("n2").translate(m.CommUp(), "dead") == [o.CommUp(peer_alive=False)]


def test_death_then_return_after_a_restart_is_one_join() -> None:
    b = Bridge("n2")
    b.translate(m.CommUp(), "active")
    assert b.translate(m.NodeChanged("n2", "dead")) == [o.PeerDied("n2")]
    assert b.translate(m.NodeChanged("n2", "dead")) == []
    assert b.translate(m.PeerRestarted("n2", 9)) == [o.PeerJoined("n2")]
    assert b.translate(m.NodeChanged("n2", "init")) == []  # the same return, already reported


def test_dead_peer_heard_again_joins_and_a_healed_partition_says_so() -> None:
    b = Bridge("n2")
    b.translate(m.CommUp(), "dead")
    assert b.translate(m.NodeChanged("n2", "init")) == [o.PeerJoined("n2")]
    assert b.translate(m.NodeChanged("n2", "dead")) == [o.PeerDied("n2")]
    assert b.translate(m.PeerReturned("n2")) == [o.PeerJoined("n2", after_partition=True)]
    assert b.translate(m.NodeChanged("n2", "active")) == []


def test_restart_without_a_death_is_a_join_and_other_nodes_are_ignored() -> None:
    b = Bridge("n2")
    b.translate(m.CommUp(), "active")
    assert b.translate(m.PeerRestarted("n2", 5)) == [o.PeerJoined("n2")]
    assert b.translate(m.NodeChanged("n3", "dead")) == []
    assert b.translate(m.Deliver(msg(t="resource", src="n3"))) == []
    assert b.translate(m.LinkChanged("n2", "eth0", False)) == []


def test_first_field_wins_and_binary_fields_are_left_out() -> None:
    b = Bridge("n2")
    message = Message((("t", "resource"), ("src", "n2"), ("srcuuid", b"\x01\x02"), ("t", "other")))
    assert b.translate(m.Deliver(message)) == [o.Received("n2", {"t": "resource", "src": "n2"})]
