"""Address announcement and duplicate detection on the wire: frames built with scapy, sent on AF_PACKET.

IPv4: an RFC 5227 probe (who-has ADDR from 0.0.0.0) before adding, then gratuitous ARP request/reply
pairs (spa = tpa = ADDR, to broadcast), as Heartbeat's send_arp puts them on the wire.
IPv6: a DAD-style neighbour solicitation from :: before adding, then unsolicited neighbour
advertisements to all-nodes. Every wait is bounded by a deadline.

scapy costs about 30 MB of memory and half a second to import, so a long-running daemon does not import
it: `prepare_frames` has the frames of an address built once by scapy in a short child process and keeps
only their bytes, and a received frame is decided on fixed byte offsets (`conflict_mac`). Frames not
prepared yet are built in the child too, unless scapy is loaded already (a one-shot agent imports it
first: `IPaddr2.warm_up`).
"""
from __future__ import annotations

import ipaddress
import os
import select
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
PACKET_OUTGOING = 4
BROADCAST = "ff:ff:ff:ff:ff:ff"
ZERO_MAC = "00:00:00:00:00:00"
ALL_NODES = "ff02::1"
ARP_TYPE = ETH_P_ARP.to_bytes(2, "big")
ARP_SPA = slice(28, 32)  # sender protocol address of an Ethernet/IPv4 ARP frame (14 + 8 + 6)
VLAN_TYPE = (0x8100).to_bytes(2, "big")
IPV6_TYPE = ETH_P_IPV6.to_bytes(2, "big")
IPPROTO_ICMPV6 = 58
ND_NS, ND_NA, ND_OPT_TARGET_LLADDR = 135, 136, 2
BUILD_TIMEOUT_S = 30.0

_FRAMES: dict[tuple[str, str], tuple[bytes, tuple[bytes, ...]]] = {}  # (mac, ip) -> (probe, announcement)


def garp_pair(mac: str, ip: str) -> tuple[bytes, bytes]:
    """The request (op 1, tha zero) and reply (op 2, tha = own MAC) Heartbeat's send_arp sends."""
    from scapy.layers.l2 import ARP, Ether

    request = Ether(dst=BROADCAST, src=mac) / ARP(op=1, hwsrc=mac, psrc=ip, hwdst=ZERO_MAC, pdst=ip)
    reply = Ether(dst=BROADCAST, src=mac) / ARP(op=2, hwsrc=mac, psrc=ip, hwdst=mac, pdst=ip)
    return bytes(request), bytes(reply)


def arp_probe(mac: str, ip: str) -> bytes:
    """RFC 5227 probe: sender IP 0.0.0.0, so no host updates its cache from it."""
    from scapy.layers.l2 import ARP, Ether

    return bytes(Ether(dst=BROADCAST, src=mac) / ARP(op=1, hwsrc=mac, psrc="0.0.0.0", hwdst=ZERO_MAC, pdst=ip))


def solicited_node(ip: str) -> tuple[str, str]:
    """The solicited-node multicast address of ip and its Ethernet group address."""
    low = ipaddress.IPv6Address(ip).packed[-3:]
    group = ipaddress.IPv6Address(bytes.fromhex("ff0200000000000000000001ff") + low)
    return str(group), "33:33:ff:" + ":".join(f"{b:02x}" for b in low)


def ns_probe(mac: str, ip: str) -> bytes:
    """DAD neighbour solicitation: from ::, to the solicited-node group, no source link-layer option."""
    from scapy.layers.inet6 import ICMPv6ND_NS, IPv6
    from scapy.layers.l2 import Ether

    group, group_mac = solicited_node(ip)
    return bytes(Ether(dst=group_mac, src=mac) / IPv6(src="::", dst=group, hlim=255) / ICMPv6ND_NS(tgt=ip))


def unsolicited_na(mac: str, ip: str) -> bytes:
    """Unsolicited neighbour advertisement (override set) to all-nodes, carrying our link-layer address."""
    from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6
    from scapy.layers.l2 import Ether

    return bytes(Ether(dst="33:33:00:00:00:01", src=mac) / IPv6(src=ip, dst=ALL_NODES, hlim=255)
                 / ICMPv6ND_NA(tgt=ip, R=0, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr=mac))


def load_frame_builder() -> None:
    import scapy.layers.inet6  # noqa: F401
    import scapy.layers.l2  # noqa: F401


def _build(mac: str, ip: str) -> tuple[bytes, tuple[bytes, ...]]:
    if ipaddress.ip_address(ip).version == 4:
        return arp_probe(mac, ip), garp_pair(mac, ip)
    return ns_probe(mac, ip), (unsolicited_na(mac, ip),)


def _key(mac: str, ip: str) -> tuple[str, str]:
    return mac.lower(), str(ipaddress.ip_address(ip))


def prepare_frames(mac: str, ip: str) -> None:
    """Build the probe and announcement frames of ip once, with scapy in a child process (so that this
    process never imports it) unless scapy is loaded here already; later calls send the kept bytes."""
    key = _key(mac, ip)
    if key in _FRAMES:
        return
    if "scapy.layers.l2" in sys.modules:
        _FRAMES[key] = _build(*key)
        return
    done = subprocess.run([sys.executable, "-m", "hbd.agents.arp", "frames", *key], capture_output=True,
                          text=True, timeout=BUILD_TIMEOUT_S, check=False)
    lines = done.stdout.split()
    if done.returncode != 0 or len(lines) < 2:
        raise OSError(f"building the frames of {ip} failed: {done.stderr.strip()[-300:]}")
    frames = [bytes.fromhex(line) for line in lines]
    _FRAMES[key] = (frames[0], tuple(frames[1:]))


def _frames(mac: str, ip: str) -> tuple[bytes, tuple[bytes, ...]]:
    """The kept frames of ip, built now when not prepared yet (with scapy in process only where it is
    loaded already: a daemon whose `prepare_frames` has not finished must not import it for one start)."""
    key = _key(mac, ip)
    if key not in _FRAMES:
        prepare_frames(*key)
    return _FRAMES[key]


def probe_frame(mac: str, ip: str) -> bytes:
    return _frames(mac, ip)[0]


def announcement(mac: str, ip: str) -> tuple[bytes, ...]:
    """One round of announcement frames for ip: an ARP pair for IPv4, one advertisement for IPv6."""
    return _frames(mac, ip)[1]


def conflict_mac(frame: bytes, ip: str, own_mac: str) -> str | None:
    """The MAC of another host claiming ip in this frame, else None (pure: tested on captured frames).

    Decided on fixed offsets, not with scapy: the standby's pre-probe sees the holder's answers for the
    address, and decoding one with scapy would import it (about 25 MB) into the daemon. Ethernet (one
    802.1Q tag allowed), then ARP for IPv4 or IPv6 + ICMPv6 (no extension header: ND carries none)."""
    addr = ipaddress.ip_address(ip).packed
    if len(frame) < 14 or frame[6:12] == _mac_bytes(own_mac):
        return None
    kind, at = frame[12:14], 14
    if kind == VLAN_TYPE:
        kind, at = frame[16:18], 18
    if kind == ARP_TYPE:
        # Ethernet/IPv4 ARP: htype, ptype, hlen, plen, op, sha(6), spa(4), tha(6), tpa(4).
        arp_hdr = frame[at:at + 28]
        if len(arp_hdr) < 28 or arp_hdr[2:6] != b"\x08\x00\x06\x04" or arp_hdr[14:18] != addr:
            return None
        return arp_hdr[8:14].hex(":")  # a reply for ip, or anyone using ip as sender (announcement, probe)
    if kind != IPV6_TYPE or len(addr) != 16:
        return None
    ip6, icmp = frame[at:at + 40], frame[at + 40:]
    if len(ip6) < 40 or ip6[6] != IPPROTO_ICMPV6 or len(icmp) < 24 or icmp[8:24] != addr:
        return None
    if icmp[0] == ND_NA:
        return _target_lladdr(icmp[24:]) or frame[6:12].hex(":")
    if icmp[0] == ND_NS and ip6[8:24] == bytes(16):
        return frame[6:12].hex(":")  # another host is probing for the same address right now
    return None


def _mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def _target_lladdr(options: bytes) -> str | None:
    """The first target link-layer address option of a neighbour advertisement (RFC 4861 4.6.1)."""
    for _ in range(64):  # bounded: a frame holds at most 1500 / 8 options
        if len(options) < 2 or options[1] == 0:
            return None
        size = options[1] * 8
        if options[0] == ND_OPT_TARGET_LLADDR and size >= 8 and len(options) >= 8:
            return options[2:8].hex(":")
        options = options[size:]
    return None


def _open(iface: str, proto: int) -> socket.socket:
    # Protocol 0 at creation registers no receive hook; bind() registers the one wanted. Created with the
    # protocol, the socket's bind() would first unregister that hook and wait for an RCU grace period
    # (10-20 ms): too long for a probe window of a few milliseconds.
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    sock.bind((iface, proto))
    return sock


def open_sender(iface: str) -> socket.socket:
    """A send-only packet socket: protocol 0 registers no receive hook, so opening it costs nothing."""
    return _open(iface, 0)


def close_later(sock: socket.socket) -> None:
    """Closing a packet socket waits for an RCU grace period (10-20 ms): keep that off the critical path."""
    threading.Thread(target=sock.close, name="close-packet-socket", daemon=True).start()


def send_frames(iface: str, frames: tuple[bytes, ...]) -> None:
    sock = open_sender(iface)
    for frame in frames:
        sock.send(frame)
    close_later(sock)


def probe(iface: str, mac: str, ip: str, timeout_s: float, clock: Callable[[], float] = time.monotonic,
          repeats: int = 1) -> str | None:
    """Ask whether another host holds ip; wait at most timeout_s; return its MAC or None.

    With repeats > 1 the probe frame is sent that many times, evenly over the window, so that one lost
    frame does not make a silent window."""
    v6 = ipaddress.ip_address(ip).version == 6
    frame = probe_frame(mac, ip)
    sock = _open(iface, ETH_P_IPV6 if v6 else ETH_P_ARP)
    try:
        start = clock()
        end = start + timeout_s
        sent, every = 0, timeout_s / max(1, repeats)
        for _ in range(10000):  # bounded also in count: a flood of frames must not keep us here
            now = clock()
            if sent < repeats and now >= start + sent * every:
                sock.send(frame)
                sent += 1
            left = end - now
            if left <= 0:
                return None
            wake = min(left, start + sent * every - now) if sent < repeats else left
            ready, _, _ = select.select([sock], [], [], max(0.0, wake))
            if not ready:
                continue
            received, addr = sock.recvfrom(2048)
            if addr[2] == PACKET_OUTGOING:
                continue
            found = conflict_mac(received, ip, mac)
            if found:
                return found
        return None
    finally:
        close_later(sock)


@dataclass
class Burst:
    """The announcement rounds still to send after the first, `interval_s` apart."""

    iface: str
    frames: tuple[bytes, ...]
    remaining: int
    interval_s: float
    still_held: Callable[[], bool] | None = None  # checked before each round: stop once the address left
    sock: socket.socket | None = field(default=None, repr=False)  # the sender of the first round, reused
    sent: int = 0
    thread: threading.Thread | None = field(default=None, repr=False)
    cancelled: threading.Event = field(default_factory=threading.Event, repr=False)

    def cancel(self) -> None:
        self.cancelled.set()
        self.wait(1.0)

    def run(self) -> None:
        with (self.sock or open_sender(self.iface)) as sock:
            for _ in range(self.remaining):
                if self.cancelled.wait(self.interval_s):
                    return
                if self.still_held is not None and not self.still_held():
                    return
                for frame in self.frames:
                    sock.send(frame)
                self.sent += 1

    def start_thread(self) -> None:
        self.thread = threading.Thread(target=self._run_quietly, name=f"garp-{self.iface}", daemon=True)
        self.thread.start()

    def _run_quietly(self) -> None:
        try:
            self.run()
        except OSError:
            pass  # the interface went away mid-burst: the address is gone with it, nothing to announce

    def wait(self, timeout_s: float) -> bool:
        if self.thread is not None:
            self.thread.join(timeout_s)
            return not self.thread.is_alive()
        return True

    def detach(self) -> int:
        """Finish the burst in a child process, so a short-lived command can exit at once (send_arp's `-b`)."""
        pid = os.fork()
        if pid:
            if self.sock is not None:
                self.sock.close()  # cheap: the child holds the socket open
            return pid
        try:
            os.setsid()
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            self._run_quietly()
        finally:
            os._exit(0)


if __name__ == "__main__":  # `python -m hbd.agents.arp frames MAC IP`: the hex of each frame, probe first
    if len(sys.argv) != 4 or sys.argv[1] != "frames":
        sys.exit("usage: python -m hbd.agents.arp frames MAC IP")
    probe_bytes, announced = _build(sys.argv[2], sys.argv[3])
    print("\n".join(f.hex() for f in (probe_bytes, *announced)))
