"""ICMP echo to ha.cf's ping nodes from the daemon's own socket, reported to the node core as
`PingReachability` only when the reachable set changes (doc/daemon.md, "Ping nodes and isolation").

Timing, as Heartbeat's ping media: one echo request to every host each keepalive; a host is reachable while
its last reply is younger than deadping (ha.cf `deadping`, default deadtime). A `ping_group` counts as one
ping node, reachable while any member is. The first verdict is always reported: at the first reply, or
deadping after the start when nothing answered.

One socket for every host: an unprivileged ICMP datagram socket where net.ipv4.ping_group_range allows it
(the kernel matches replies to it), else a raw ICMP socket (the daemon runs as root; replies are matched by
our identifier). Never a `ping` process per probe.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

from hbd.config.model import HaCf

LOG = logging.getLogger("hbd.ping")
ECHO_REQUEST, ECHO_REPLY = 8, 0


@dataclass(frozen=True)
class PingTargets:
    nodes: dict[str, tuple[str, ...]]  # ping node name (address or group name) -> its addresses
    interval_ms: int
    deadping_ms: int

    @classmethod
    def from_hacf(cls, hacf: HaCf) -> "PingTargets":
        nodes: dict[str, tuple[str, ...]] = {address: (address,) for address in hacf.ping_nodes}
        nodes.update({group.name: group.hosts for group in hacf.ping_groups})
        return cls(nodes, hacf.timing.keepalive_ms, hacf.timing.deadping_ms)


class Reachability:
    """Which ping nodes answered within deadping: replies in, the set out only when it changes (pure)."""

    def __init__(self, targets: PingTargets, start_ms: int):
        self.targets = targets
        self.start_ms = start_ms
        self.last_reply: dict[str, int] = {}  # address -> time of its last reply
        self.reported: frozenset[str] | None = None
        self.since: dict[str, int] = {}  # ping node -> when its reported verdict last changed

    def replied(self, address: str, now_ms: int) -> None:
        self.last_reply[address] = now_ms

    def reachable(self, now_ms: int) -> frozenset[str]:
        alive = {a for a, t in self.last_reply.items() if now_ms - t < self.targets.deadping_ms}
        return frozenset(name for name, hosts in self.targets.nodes.items() if alive & set(hosts))

    def change(self, now_ms: int) -> frozenset[str] | None:
        """The set to report now, or None (unchanged, or no verdict yet: nothing heard before deadping)."""
        now = self.reachable(now_ms)
        if self.reported is None and not now and now_ms - self.start_ms < self.targets.deadping_ms:
            return None
        if now == self.reported:
            return None
        for name in self.targets.nodes:
            if self.reported is None or (name in now) != (name in self.reported):
                self.since[name] = now_ms
        self.reported = now
        return now

    def describe(self, now_ms: int) -> list[dict[str, object]]:
        """Each ping node (address or group) for `hbd status`: its verdict, for how long, its last reply."""
        out: list[dict[str, object]] = []
        for name, hosts in self.targets.nodes.items():
            replies = [self.last_reply[h] for h in hosts if h in self.last_reply]
            since = self.since.get(name)
            out.append({"name": name, "hosts": list(hosts),
                        "reachable": None if self.reported is None else name in self.reported,
                        "since_s": None if since is None else round((now_ms - since) / 1000, 3),
                        "last_reply_s": round((now_ms - max(replies)) / 1000, 3) if replies else None})
        return out


def echo_request(ident: int, seq: int) -> bytes:
    header = struct.pack("!BBHHH", ECHO_REQUEST, 0, 0, ident, seq)
    payload = b"hbd-ping"
    return struct.pack("!BBHHH", ECHO_REQUEST, 0, _checksum(header + payload), ident, seq) + payload


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def parse_reply(packet: bytes, raw: bool, ident: int) -> bool:
    """Whether `packet` is an echo reply for us (raw sockets see every ICMP packet of the host)."""
    if raw:
        if len(packet) < 20:
            return False
        packet = packet[(packet[0] & 0x0F) * 4:]
    if len(packet) < 8:
        return False
    kind, _code, _sum, got_ident, _seq = struct.unpack("!BBHHH", packet[:8])
    return kind == ECHO_REPLY and (not raw or got_ident == ident)


def open_socket() -> tuple[socket.socket, bool]:
    """(socket, raw): a datagram ICMP socket if the kernel lets us, else a raw one (root)."""
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
        raw = False
    except OSError:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        raw = True
    sock.setblocking(False)
    return sock, raw


class PingMonitor:
    """Runs on the daemon's loop: `start(loop)`, `close()`; `report(reachable)` on every change."""

    def __init__(self, targets: PingTargets, report: Callable[[frozenset[str]], None]):
        self.targets = targets
        self.report = report
        self.hosts = sorted({a for hosts in targets.nodes.values() for a in hosts})
        self.addresses: dict[str, set[str]] = {}  # resolved IPv4 address -> hosts as written (resolved at start)
        self.ident = os.getpid() & 0xFFFF
        self.seq = 0
        self.sock: socket.socket | None = None
        self.raw = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.state: Reachability | None = None
        self.timer: asyncio.TimerHandle | None = None

    def _now_ms(self) -> int:
        assert self.loop is not None
        return round(self.loop.time() * 1000)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.sock, self.raw = open_socket()
        for host in self.hosts:
            try:
                self.addresses.setdefault(socket.gethostbyname(host), set()).add(host)
            except OSError as error:  # never answers: counted unreachable
                LOG.warning("ping node %s: cannot resolve it (%s); it counts as unreachable", host, error)
        self.state = Reachability(self.targets, self._now_ms())
        loop.add_reader(self.sock.fileno(), self._readable)
        LOG.info("watching ping nodes %s every %d ms (deadping %d ms, %s ICMP socket)",
                 ", ".join(self.targets.nodes), self.targets.interval_ms, self.targets.deadping_ms,
                 "raw" if self.raw else "datagram")
        self._probe()

    def _probe(self) -> None:
        assert self.loop is not None and self.sock is not None
        self.seq = (self.seq + 1) & 0xFFFF
        packet = echo_request(self.ident, self.seq)
        for address in self.addresses:
            try:
                self.sock.sendto(packet, (address, 0))
            except OSError as error:  # no route (a cut link): the host simply does not answer
                LOG.debug("ping %s: %s", address, error)
        self._judge()
        self.timer = self.loop.call_later(self.targets.interval_ms / 1000, self._probe)

    def _readable(self) -> None:
        assert self.sock is not None and self.state is not None
        for _ in range(256):  # bounded: the rest waits for the next wake-up
            try:
                packet, (address, _port) = self.sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            hosts = self.addresses.get(address, ())
            if hosts and parse_reply(packet, self.raw, self.ident):
                for host in hosts:
                    self.state.replied(host, self._now_ms())
        self._judge()

    def _judge(self) -> None:
        assert self.state is not None
        changed = self.state.change(self._now_ms())
        if changed is not None:
            LOG.info("ping nodes reachable: %s of %d (%s)", len(changed), len(self.targets.nodes),
                     ", ".join(sorted(changed)) or "none")
            self.report(changed)

    def describe(self) -> list[dict[str, object]]:
        return [] if self.state is None else self.state.describe(self._now_ms())

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.sock is not None and self.loop is not None:
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None
