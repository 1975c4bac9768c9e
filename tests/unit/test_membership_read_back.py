"""Fewer loop turns per keepalive: the heartbeat layer handles its own looped-back copies in the tick that sent
them, and a readable socket's turn also reads what waits on the other media's sockets."""
from __future__ import annotations

import asyncio
import socket

from hbd.config.model import AuthKey, AuthKeys, HaCf, Medium, Timing
from hbd.runtime.membership_service import MembershipService
from hbd.runtime.state import NodeIdentity
from hbd.runtime.transport import Transport

KEYS = AuthKeys("authkeys", 1, (AuthKey(1, "sha1", b"right"),))
HACF = HaCf("ha.cf", ("alice", "bob"), "alice", Timing(100, 1000, 500, 1000), (Medium("bcast", "eth0"),))


class LoopingTransport:
    """Like a broadcast medium: a send puts our own copy in a receive queue, read only when asked."""

    def __init__(self, media: tuple, deliver) -> None:  # type: ignore[no-untyped-def]
        self.deliver = deliver
        self.notes: list[tuple[str, str]] = []
        self.queue: list[bytes] = []

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        pass

    def send(self, datagram: bytes) -> None:
        self.queue.append(datagram)

    def drain(self) -> int:
        return 0  # what the tick finds before its step: not this test's subject

    def read_waiting(self) -> int:
        queued, self.queue = self.queue, []
        for datagram in queued:
            self.deliver(datagram, "eth0", None)
        return len(queued)

    def on_medium(self, link: str, source: tuple[str, int] | None) -> bool:
        return True

    def close(self) -> None:
        pass


def test_a_tick_that_sends_handles_its_own_copies_before_returning() -> None:
    service = MembershipService(HACF, KEYS, NodeIdentity(10, b"\x01" * 16, ()), transport_factory=LoopingTransport)
    loop = asyncio.new_event_loop()
    try:
        service.start(loop)
        transport = service.transport
        assert isinstance(transport, LoopingTransport)
        transport.queue.clear()  # the start's two statuses
        async def two_statuses_back() -> None:  # bounded: 2 keepalives of 100 ms, up to 5 s on a loaded machine
            for _ in range(500):
                if service.accepted["alice"] >= 2:
                    return
                await asyncio.sleep(0.01)

        loop.run_until_complete(two_statuses_back())
        # each status came back and reached the core in the tick that sent it: nothing is left queued between
        # ticks (a turn of this coroutine is never the tick's turn)
        assert service.accepted["alice"] >= 2
        assert transport.queue == []
    finally:
        service.stop()
        loop.close()


def test_a_readable_socket_also_reads_the_other_media_sockets() -> None:
    got: list[tuple[bytes, str]] = []
    transport = Transport((), lambda data, link, source: got.append((data, link)))
    receivers = []
    try:
        for link in ("eth0", "eth1"):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            transport._inputs[(link, sock.getsockname()[1], None)] = sock
            receivers.append(sock)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            for i, sock in enumerate(receivers):
                out.sendto(b"copy%d" % i, sock.getsockname())
        # loopback delivers within sendto(); wait (bounded) until the kernel reports both queues readable
        for sock in receivers:
            sock.settimeout(1.0)
            assert sock.recv(64, socket.MSG_PEEK)
            sock.setblocking(False)
        transport._readable(receivers[0], "eth0")
        assert sorted(got) == [(b"copy0", "eth0"), (b"copy1", "eth1")]
    finally:
        for sock in receivers:
            sock.close()
