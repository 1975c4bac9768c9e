"""The receive path's per-datagram savings: a node's own datagrams (back on every medium, each keepalive)
are not decoded again but taken as decoded at their send, which must be exactly what decode() makes of
them, and a peer's copy on a second medium is taken as decoded on the first; and the `ld` field's /proc/loadavg is read at most once a second, not per heartbeat."""
from __future__ import annotations

import pytest

from hbd.config.model import AuthKey, AuthKeys
from hbd.core import messages as m
from hbd.core.membership_events import Received
from hbd.runtime import membership_service as ms
from test_membership_security import KEYS, bob_status, run_service

SENDER = m.Sender("alice", b"\x01\x00\xff\n" * 4, 0x1234, 3)


@pytest.mark.parametrize("body,seq,dest", [
    ((("t", "status"), ("st", "active"), ("dt", "3e8"), ("protocol", "1")), 5, None),
    ((("t", "NS_ackmsg"), ("ackseq", "1f")), None, "bob"),
    ((("t", "resource"), ("rsc_hold", "local"), ("info", "caf\u00e9 \udcff"), ("blob", b"\x00=\n,")), 9, None),
])
def test_the_message_kept_at_send_is_what_decode_makes_of_the_datagram(body, seq, dest) -> None:
    for keys in (KEYS, AuthKeys("k", 2, (AuthKey(2, "md5", b"x"),)), AuthKeys("k", 3, (AuthKey(3, "crc", b""),))):
        fields = m.with_control_fields(body, SENDER, seq=seq, ts=0x5f, load="0.1 0.2 0.3 1/2 3", dest=dest,
                                       dest_uuid=b"\x02" * 16 if dest else None)
        datagram, kept = m.encode_message(fields, keys)
        assert datagram == m.encode(fields, keys)
        assert kept == m.decode(datagram, keys)


def counting_decode(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    seen: list[bytes] = []
    real = m.decode

    def decode(data: bytes, keys: AuthKeys) -> m.Message | m.Rejection:
        seen.append(data)
        return real(data, keys)
    monkeypatch.setattr(ms.messages, "decode", decode)
    return seen


def test_own_datagrams_back_are_not_decoded_but_count_for_the_own_heartbeat(monkeypatch) -> None:
    decoded = counting_decode(monkeypatch)

    def feed(service, loop) -> None:
        for seq in range(1, 4):
            loop.call_later(0.05 * seq, service._datagram, bob_status(seq, 7), "eth0", ("192.0.2.2", 694))
    service, records = run_service(feed, 0.6)
    assert service.transport.sent and all(d not in service.transport.sent for d in decoded)
    assert len(decoded) == 3  # bob's, each decoded once
    assert service.accepted["alice"] >= len(service.transport.sent) - 1  # own packets accepted all the same
    assert "No local heartbeat. Forcing restart." not in records
    assert service.view().local_status != "dead"


def test_a_peer_datagram_on_two_media_is_decoded_once_and_both_copies_reach_the_core(monkeypatch) -> None:
    decoded = counting_decode(monkeypatch)
    received: list[tuple[str, str]] = []

    def feed(service, loop) -> None:
        step = service._step

        def spy(event):  # type: ignore[no-untyped-def]
            if isinstance(event, Received) and event.message.src == "bob":
                received.append((event.link, event.message.get("seq")))
            return step(event)
        service._step = spy
        datagram = bob_status(1, 7)
        loop.call_later(0.05, service._datagram, datagram, "eth0", ("192.0.2.2", 694))
        loop.call_later(0.06, service._datagram, datagram, "eth1", ("198.51.100.2", 694))
    service, _ = run_service(feed, 0.3)
    assert len(decoded) == 1
    assert received == [("eth0", "1"), ("eth1", "1")]
    assert service.accepted["bob"] == 2


def test_after_a_key_change_own_datagrams_signed_before_are_decoded_and_judged_by_the_new_keys(
        monkeypatch) -> None:
    decoded = counting_decode(monkeypatch)
    new_keys = AuthKeys("authkeys", 2, (AuthKey(2, "sha1", b"new"),))

    def feed(service, loop) -> None:
        def reload_then_replay() -> None:
            old = service.transport.sent[-1]
            service.keys = new_keys  # as hbd reload does
            before = service.accepted["alice"]
            service._datagram(old, "eth0", None)
            assert old in decoded and service.accepted["alice"] == before  # unknown key index: dropped
        loop.call_later(0.3, reload_then_replay)
    service, _ = run_service(feed, 0.5)
    assert sum(service.rejects.as_dict().values()) >= 1


def test_kept_datagrams_are_bounded() -> None:
    def feed(service, loop) -> None:
        def many() -> None:
            for n in range(ms.DECODED_KEPT + 10):
                service.broadcast((("t", "probe"), ("n", str(n))))
        loop.call_later(0.1, many)
    service, _ = run_service(feed, 0.3)
    assert len(service._decoded) == ms.DECODED_KEPT
    assert service.transport.sent[-1] in service._decoded and service.transport.sent[0] not in service._decoded


def test_the_load_average_is_read_at_most_once_a_second() -> None:
    reads: list[float] = []
    load = ms.LoadAverage(lambda: reads.append(0) or f"{len(reads)}.00")
    assert [load.get(t) for t in (10.0, 10.5, 10.99, 11.0, 11.2, 5.0)] == ["1.00", "1.00", "1.00", "2.00", "2.00",
                                                                           "3.00"]
    assert len(reads) == 3  # a clock going back (a new loop) reads again
