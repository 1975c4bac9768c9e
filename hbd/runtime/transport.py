"""UDP heartbeat media (bcast, mcast, ucast), several at once, with Heartbeat's socket layout (heartbeat.md §8.1).

Each medium has a send socket on an ephemeral port and shares a receive socket bound to the udpport on its
interface (SO_BINDTODEVICE). Datagrams are handed up with the link name (the interface, as in Heartbeat's
`Link bob:eth0`). Each interface has its own receive socket and kernel queue (4 MiB), read a bounded batch
at a time, so a flood on one medium cannot hold back the packets of another. The cheapest checks come
first, in the kernel (a BPF filter, socket_filter.py): a datagram of impossible length or start, or from
outside the medium's network, never enters the queue. `on_medium()` repeats the source check in the
daemon, before any parse or HMAC: a bcast (or ttl-1 mcast) datagram from outside the interface's network,
or a ucast one from neither that network nor a configured ucast address, is not from a node. Our own packets must come back for the self-liveness check: the kernel loops broadcasts
and looped multicast back; for ucast and mcast without loop the transport hands a copy up itself.
"""
from __future__ import annotations

import asyncio
import fcntl
import ipaddress
import socket
import struct
from dataclasses import dataclass
from typing import Callable

from hbd.config.model import Medium
from hbd.config.runnable import is_local_address
from hbd.errors import HbdError
from hbd.runtime import socket_filter

Deliver = Callable[[bytes, str, tuple[str, int] | None], None]  # (datagram, link, source address)
RECV_BUFFER = 256 * 1024 + 512
READ_BATCH = 64  # datagrams per socket per loop turn: a flood must not starve the timers
# drain() before a verdict reads a whole queue: RCVBUF / the smallest datagram's footprint (about 1 KiB)
RCVBUF = 4 << 20
DRAIN_LIMIT = RCVBUF // 512
SIOCGIFADDR, SIOCGIFBRDADDR, SIOCGIFNETMASK = 0x8915, 0x8919, 0x891B
SO_RCVBUFFORCE = 33  # linux/socket.h; not in Python's socket module
JUDGED_KEPT = 64  # source addresses whose on_medium() answer is kept


class TransportError(HbdError):
    """A medium cannot be opened (missing interface, no address, port in use)."""


@dataclass(frozen=True)
class InterfaceAddress:
    index: int
    address: str
    broadcast: str
    broadcast_derived: bool  # the interface has no broadcast address: computed from the prefix
    netmask: str = "255.255.255.255"


def interface_address(name: str) -> InterfaceAddress:
    """The primary IPv4 address of `name` and its broadcast address.

    SIOCGIF* ioctls rather than netlink: they work from inside a running event loop, where pyroute2's
    synchronous IPRoute cannot, and the primary address is what Heartbeat's bcast plugin reads too.
    """
    try:
        index = socket.if_nametoindex(name)
    except OSError:
        raise TransportError(f"IP interface [{name}] does not exist") from None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        def query(request: int) -> str:
            ifreq = struct.pack("256s", name.encode()[:15])
            return socket.inet_ntoa(fcntl.ioctl(probe.fileno(), request, ifreq)[20:24])
        try:
            address = query(SIOCGIFADDR)
            netmask = query(SIOCGIFNETMASK)
            broadcast = query(SIOCGIFBRDADDR)
        except OSError:
            raise TransportError(f"interface [{name}] has no IPv4 address") from None
    if broadcast != "0.0.0.0":
        return InterfaceAddress(index, address, broadcast, False, netmask)
    network = ipaddress.IPv4Network(f"{address}/{netmask}", strict=False)
    return InterfaceAddress(index, address, str(network.broadcast_address), True, netmask)


@dataclass
class _Output:
    medium: Medium
    sock: socket.socket
    destination: tuple[str, int] | None  # None: a ucast line naming this node itself (sends nothing)
    loops_back: bool  # the kernel hands our own datagram back to our receive socket
    link: str


class Transport:
    """Opens every medium at once; `send()` writes one datagram on all of them."""

    def __init__(self, media: tuple[Medium, ...], deliver: Deliver):
        self.media = media
        self.deliver = deliver
        self._outputs: list[_Output] = []
        self._inputs: dict[tuple[str, int, str | None], socket.socket] = {}
        self.notes: list[tuple[str, str]] = []  # (level, text) for the log, Heartbeat's start-up lines
        self.send_errors = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sources: dict[str, list[tuple[int, int]] | None] = {}  # link -> [(network, mask)]; None: any
        self._judged: dict[tuple[str, str], bool] = {}  # (link, source address) -> on_medium()
        self.filtered: dict[str, bool] = {}  # link -> the kernel filter is attached (socket_filter.py)

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        try:
            for medium in self.media:
                self._open_medium(medium)
            # the cheapest drops, in the kernel: length, start marker and source network (socket_filter.py);
            # attached once every medium added its sources (several media can share an interface's socket)
            for (link, _, _), sock in self._inputs.items():
                self.filtered[link] = socket_filter.attach(sock, self._sources.get(link))
                if not self.filtered[link]:
                    self.notes.append(("WARN", f"no kernel filter on {link}: every datagram reaches the daemon"))
        except OSError as exc:
            self.close()
            raise TransportError(f"cannot open heartbeat media: {exc.strerror or exc}") from exc
        except TransportError:
            self.close()
            raise

    def _open_medium(self, medium: Medium) -> None:
        iface = interface_address(medium.interface)
        link = medium.interface
        self._allow_sources(medium, iface)
        if medium.kind == "bcast":
            if iface.broadcast_derived:
                self.notes.append(("WARN", f"interface {link} has no broadcast address: using {iface.broadcast}"))
            out = self._sender(medium, iface, broadcast=True)
            self._outputs.append(_Output(medium, out, (iface.broadcast, medium.port), True, link))
            self._receiver(medium, None)
            self.notes.append(("info", f"UDP Broadcast heartbeat started on port {medium.port} ({medium.port}) "
                                       f"interface {link}"))
        elif medium.kind == "mcast":
            assert medium.address is not None
            out = self._sender(medium, iface, broadcast=False)
            out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                           struct.pack("4s4si", socket.inet_aton(medium.address), socket.inet_aton(iface.address),
                                       iface.index))
            out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, medium.ttl or 1)
            out.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1 if medium.loop else 0)
            self._outputs.append(_Output(medium, out, (medium.address, medium.port), bool(medium.loop), link))
            rx = self._receiver(medium, medium.address)
            mreq = struct.pack("4s4si", socket.inet_aton(medium.address), socket.inet_aton("0.0.0.0"), iface.index)
            rx.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
            self.notes.append(("info", f"UDP multicast heartbeat started for group {medium.address} port "
                                       f"{medium.port} interface {link} (ttl={medium.ttl} loop={medium.loop})"))
        elif medium.kind == "ucast":
            assert medium.address is not None
            out = self._sender(medium, iface, broadcast=False)
            to_self = medium.address == iface.address or is_local_address(medium.address)
            self._outputs.append(_Output(medium, out, None if to_self else (medium.address, medium.port), False, link))
            self._receiver(medium, None)
            self.notes.append(("info", f"UDP unicast heartbeat started on port {medium.port} interface {link} "
                                       f"to {medium.address}" + (" (this node: receive only)" if to_self else "")))
        else:
            raise TransportError(f"medium {medium.kind} {medium.interface} is not supported by hbd yet")

    def _allow_sources(self, medium: Medium, iface: InterfaceAddress) -> None:
        link = medium.interface
        self._judged.clear()
        if medium.kind == "mcast" and (medium.ttl or 1) > 1:
            self._sources[link] = None  # routed multicast: a node may be anywhere
            return
        allowed = self._sources.setdefault(link, [])
        if allowed is None:
            return
        mask = _ip_int(iface.netmask)
        entries = [(_ip_int(iface.address) & mask, mask)]
        if medium.kind == "ucast" and medium.address is not None:
            entries.append((_ip_int(medium.address), 0xFFFFFFFF))  # a routed ucast peer
        allowed += [e for e in entries if e not in allowed]

    def restrict(self, link: str, known: set[str] | None) -> bool:
        """Flood mode on `link`'s sockets (only `known` sources pass whole), or back to normal (None)."""
        addresses = None if known is None else sorted(_ip_int(a) for a in known)
        done = True
        for (name, _, _), sock in self._inputs.items():
            if name == link:
                done = socket_filter.attach(sock, self._sources.get(link), addresses) and done
        return done

    def on_medium(self, link: str, source: tuple[str, int] | None) -> bool:
        """Whether a datagram from `source` can be a node's on this medium (None: our own loopback copy)."""
        allowed = self._sources.get(link)
        if source is None or allowed is None:
            return True
        judged = self._judged.get((link, source[0]))
        if judged is not None:
            return judged
        try:
            address = _ip_int(source[0])
        except OSError:
            return False
        judged = any(address & mask == network for network, mask in allowed)
        if len(self._judged) < JUDGED_KEPT:  # the nodes' few addresses, each datagram; never a flood's all
            self._judged[(link, source[0])] = judged
        return judged

    def _sender(self, medium: Medium, iface: InterfaceAddress, broadcast: bool) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, medium.interface.encode())
        if broadcast:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.bind(("", 0))  # ephemeral source port, as Heartbeat's writer
        sock.setblocking(False)
        return sock

    def _receiver(self, medium: Medium, group: str | None) -> socket.socket:
        key = (medium.interface, medium.port, group)
        existing = self._inputs.get(key)
        if existing is not None:
            return existing
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, medium.interface.encode())
        try:  # root: past rmem_max, so a flood fills the queue later (each interface has its own)
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        sock.bind((group or "", medium.port))
        sock.setblocking(False)
        self._inputs[key] = sock
        assert self._loop is not None
        self._loop.add_reader(sock.fileno(), self._readable, sock, medium.interface)
        return sock

    def drain(self) -> int:
        """Read what waits in every receive queue (bounded), so a verdict is taken on every packet that came:
        after a stall, the timer may run before the sockets' turn. Returns the number of datagrams read."""
        return self._read_all(DRAIN_LIMIT)

    def read_waiting(self) -> int:
        """Read what is already queued (at most READ_BATCH per socket): right after a send, the broadcast
        copies the kernel looped back to our own sockets, in this loop turn instead of the next."""
        return self._read_all(READ_BATCH)

    def _read_all(self, limit: int) -> int:
        read = 0
        for (link, _, _), sock in list(self._inputs.items()):
            read += self._read(sock, link, limit)
        return read

    def _readable(self, sock: socket.socket, link: str) -> None:
        # a peer sends its copies one medium after the other: by the time this one is handled, the copy on
        # the next medium has mostly come too; reading every socket now spares the loop a turn for it
        self._read_all(READ_BATCH)

    def _read(self, sock: socket.socket, link: str, limit: int) -> int:
        for n in range(limit):
            try:
                data, source = sock.recvfrom(RECV_BUFFER)
            except OSError:  # BlockingIOError: the queue is empty
                return n
            self.deliver(data, link, source)
        return limit

    def send(self, datagram: bytes) -> None:
        """Write on every medium; a failing medium (interface down) does not stop the others."""
        for out in self._outputs:
            if out.destination is not None:
                try:
                    out.sock.sendto(datagram, out.destination)
                except OSError:
                    self.send_errors += 1
                    continue  # no loopback either: a medium that cannot send is not alive for us
            else:
                continue
            if not out.loops_back and self._loop is not None:
                self._loop.call_soon(self.deliver, datagram, out.link, None)

    def close(self) -> None:
        for sock in self._inputs.values():
            if self._loop is not None:
                self._loop.remove_reader(sock.fileno())
            sock.close()
        for out in self._outputs:
            out.sock.close()
        self._inputs.clear()
        self._outputs.clear()


def _ip_int(address: str) -> int:
    return int.from_bytes(socket.inet_aton(address), "big")
