"""Reading the peer's holdings: exact lists from hbd, words and announcements from Heartbeat, out-of-order
delivery."""
from __future__ import annotations

from hbd.core.holdings import GroupInfo, Topology
from hbd.core.peer_view import PeerView
from hbd.core.resource_messages import HoldingsReport, StandbyMessage, decode, message_seq

TOPO = Topology((GroupInfo("g1", "n1"), GroupInfo("g2", "n2"), GroupInfo("g3", "n1")))


def report(seq: int, **fields: str) -> HoldingsReport:
    body = decode({"t": "resource", "seq": f"{seq:x}", **fields}, TOPO).body
    assert isinstance(body, HoldingsReport)
    return body


def done(**fields: str) -> StandbyMessage:
    body = decode({"t": "ask_resources", "info": "done", **fields}, TOPO).body
    assert isinstance(body, StandbyMessage)
    return body


def test_an_older_message_is_not_applied_after_a_newer_one() -> None:
    pv = PeerView()
    assert pv.newer(report(0x10).seq)
    assert not pv.newer(report(0x0f).seq)
    assert not pv.newer(report(0x10).seq)
    assert pv.newer(report(0x11).seq)
    assert pv.newer(message_seq({"t": "resource"}))  # no seq (a local test message): always applied


def test_an_hbd_report_is_exact_whatever_its_word_says() -> None:
    pv = PeerView(hold=frozenset({"g1", "g2", "g3"}))
    pv.apply_report(report(1, rsc_hold="all", hbd_groups="g2", isstable="0"), TOPO, "n2")
    assert pv.hold == {"g2"} and not pv.stable


def test_a_stable_heartbeat_report_says_exactly_the_word() -> None:
    pv = PeerView(hold=frozenset({"g1", "g3"}))
    pv.apply_report(report(1, rsc_hold="local", isstable="1"), TOPO, "n2")
    assert pv.hold == {"g2"} and pv.stable


def test_an_unstable_heartbeat_report_only_adds() -> None:
    """`rsc_hold=none isstable=0 info=shutdown` comes before the stops: the old holdings still count."""
    pv = PeerView(hold=frozenset({"g1", "g3"}), stable=True)
    pv.apply_report(report(1, rsc_hold="none", isstable="0", info="shutdown"), TOPO, "n2")
    assert pv.hold == {"g1", "g3"} and not pv.stable
    pv.apply_report(report(2, rsc_hold="local", isstable="0"), TOPO, "n2")
    assert pv.hold == {"g1", "g2", "g3"}


def test_done_from_a_heartbeat_giver_removes_the_set_and_outranks_its_earlier_report() -> None:
    pv = PeerView(hold=frozenset({"g1", "g3"}))
    pv.handed_over(done(seq="9"), frozenset({"g1", "g3"}), to_peer=False)
    assert pv.hold == frozenset()
    late = report(8, rsc_hold="none", isstable="0", info="standby")
    assert not pv.newer(late.seq)


def test_done_from_a_taker_adds_the_set_until_its_next_report() -> None:
    pv = PeerView(hold=frozenset({"g2"}))
    pv.handed_over(done(seq="3"), frozenset({"g1"}), to_peer=True)
    assert pv.hold == {"g1", "g2"}
    pv.handed_over(done(seq="4", hbd_groups="g1"), frozenset(), to_peer=True)
    assert pv.hold == {"g1"}


def test_an_unreadable_seq_counts_as_none() -> None:
    assert message_seq({"seq": "zz"}) == -1 and message_seq({}) == -1 and message_seq({"seq": "ff"}) == 255
