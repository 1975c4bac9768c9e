"""The running heartbeat layer under hostile input: bad HMAC, unknown key index, replayed old generation,
truncated, oversized and random datagrams are dropped, counted and logged; none crashes the service or
makes a silent peer alive. Runs the real service on an asyncio loop with an in-memory transport."""
from __future__ import annotations

import asyncio
import logging
import random

import pytest

from hbd.config.model import AuthKey, AuthKeys, HaCf, Medium, Timing
from hbd.core import messages as m
from hbd.runtime.membership_service import MembershipService
from hbd.runtime.state import NodeIdentity

KEYS = AuthKeys("authkeys", 1, (AuthKey(1, "sha1", b"right"),))
HACF = HaCf("ha.cf", ("alice", "bob"), "alice", Timing(100, 1000, 500, 1000), (Medium("bcast", "eth0"),))


class MemoryTransport:
    def __init__(self, media: tuple, deliver) -> None:
        self.deliver = deliver
        self.notes: list[tuple[str, str]] = []
        self.sent: list[bytes] = []
        self.loop: asyncio.AbstractEventLoop | None = None

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def send(self, datagram: bytes) -> None:
        self.sent.append(datagram)
        assert self.loop is not None
        self.loop.call_soon(self.deliver, datagram, "eth0", None)  # our own packets come back

    def close(self) -> None:
        pass

    def drain(self) -> int:
        return 0

    def on_medium(self, link: str, source: tuple[str, int] | None) -> bool:
        return source is None or not source[0].startswith("203.0.113.")


def bob_status(seq: int, generation: int, keys: AuthKeys = KEYS) -> bytes:
    body = [("t", "status"), ("st", "active"), ("dt", "3e8"), ("protocol", "1")]
    sender = m.Sender("bob", b"\x02" * 16, generation, 3)
    return m.encode(m.with_control_fields(body, sender, seq=seq, ts=0, load="0.00"), keys)


def run_service(feed, seconds: float) -> tuple[MembershipService, list[str]]:
    """Run the service for `seconds` of real time; feed(service, loop) schedules hostile datagrams."""
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("hbd.membership")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    service = MembershipService(HACF, KEYS, NodeIdentity(10, b"\x01" * 16, ()), transport_factory=MemoryTransport)
    loop = asyncio.new_event_loop()
    try:
        service.start(loop)
        feed(service, loop)
        loop.run_until_complete(asyncio.sleep(seconds))
    finally:
        service.stop()
        loop.close()
        logger.removeHandler(handler)
    return service, records


def bob(service: MembershipService) -> str:
    return next(n.status for n in service.core.view(0).nodes if n.name == "bob")  # type: ignore[union-attr]


def hostile_datagrams(rng: random.Random) -> list[bytes]:
    good = bob_status(5, 7)
    wrong_key = bob_status(6, 7, AuthKeys("k", 1, (AuthKey(1, "sha1", b"wrong"),)))
    unknown_index = bob_status(7, 7, AuthKeys("k", 9, (AuthKey(9, "sha1", b"right"),)))
    flipped = bytearray(good)
    flipped[good.index(b"active")] ^= 0x20
    return ([wrong_key, unknown_index, bytes(flipped), good[: len(good) // 2], good[:-1],
             b"###\n" + b"1" * (m.MAX_MESSAGE + 10), b"", b"\0" * 40]
            + [rng.randbytes(rng.randint(1, 400)) for _ in range(100)]
            + [b"###\n" + rng.randbytes(rng.randint(1, 300)) for _ in range(100)])


def test_hostile_datagrams_are_dropped_counted_and_never_revive_a_silent_peer() -> None:
    rng = random.Random(4)
    datagrams = hostile_datagrams(rng)

    def feed(service: MembershipService, loop: asyncio.AbstractEventLoop) -> None:
        for i, data in enumerate(datagrams):
            loop.call_later(0.002 * i, service._datagram, data, "eth0", ("192.0.2.66", 694))

    service, logs = run_service(feed, 1.3)  # past initdead (1 s): bob was never heard, so he is dead
    assert bob(service) == "dead"
    assert sum(service.rejects.total.values()) == len(datagrams)
    reasons = {r.name for r in service.rejects.total}
    assert {"BAD_AUTH", "UNKNOWN_KEY", "MALFORMED", "TOO_LARGE"} <= reasons
    assert any(line.startswith("authtoken does not match") for line in logs)
    assert any("unknown key index" in line for line in logs)
    assert sum("dropped packet" in line or "authtoken" in line for line in logs) <= 5 * len(reasons)  # rate limit
    assert "node bob: is dead" in logs
    assert service.accepted["bob"] == 0 and service.accepted["alice"] > 5  # our own loopback kept flowing


def test_replayed_lower_generation_is_dropped_after_restart() -> None:
    def feed(service: MembershipService, loop: asyncio.AbstractEventLoop) -> None:
        for i in range(5):  # bob, generation 8, alive for a while
            loop.call_later(0.05 * i, service._datagram, bob_status(i + 1, 8), "eth0", ("192.0.2.12", 694))
        for i in range(30):  # then only the attacker's captured generation-7 packets, with high seqs
            loop.call_later(0.3 + 0.05 * i, service._datagram, bob_status(100 + i, 7), "eth0", ("192.0.2.66", 694))

    service, logs = run_service(feed, 2.0)
    assert bob(service) == "dead"
    assert "should_drop_message: attempted replay attack [bob]? [gen = 7, curgen = 8]" in logs
    assert logs.count("node bob: is dead") == 1


@pytest.mark.parametrize("garbage", [b"###\n5:(0)t=x,%%%\n", b">>>\nt=status\nsrc=bob\n<<<\n", b"%%%\n"])
def test_a_good_peer_stays_alive_through_garbage(garbage: bytes) -> None:
    def feed(service: MembershipService, loop: asyncio.AbstractEventLoop) -> None:
        for i in range(40):
            loop.call_later(0.05 * i, service._datagram, bob_status(i + 1, 8), "eth0", ("192.0.2.12", 694))
            loop.call_later(0.05 * i + 0.01, service._datagram, garbage, "eth0", ("192.0.2.66", 694))

    service, logs = run_service(feed, 2.3)  # the last packets at 1.96 s, bob's dt is 1 s
    assert bob(service) == "active" and "node bob: is dead" not in logs
    assert sum(service.rejects.total.values()) == 40
