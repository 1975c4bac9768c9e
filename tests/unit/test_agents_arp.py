"""Announcement and probe frames, checked against frames captured from Heartbeat's send_arp, send_ua and Linux."""
from __future__ import annotations

from pathlib import Path

from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether

from hbd.agents import arp

DATA = Path(__file__).resolve().parent.parent / "data" / "agents"
MAC, IP = "02:00:00:00:05:0a", "198.51.100.60"  # the addresses the captures were made with
OTHER = "02:00:00:00:05:0b"


def frames(name: str) -> list[bytes]:
    return [bytes.fromhex(line) for line in (DATA / name).read_text().split()]


def test_gratuitous_pair_is_byte_identical_to_send_arp() -> None:
    captured = frames("send_arp-198.51.100.60.hex")
    assert list(arp.garp_pair(MAC, IP)) == captured[:2]


def test_gratuitous_pair_fields() -> None:
    request, reply = (Ether(f) for f in arp.garp_pair(MAC, IP))
    assert (request.dst, request[ARP].op, request[ARP].psrc, request[ARP].pdst, request[ARP].hwdst) == (
        arp.BROADCAST, 1, IP, IP, arp.ZERO_MAC)
    assert (reply.dst, reply[ARP].op, reply[ARP].hwsrc, reply[ARP].hwdst) == (arp.BROADCAST, 2, MAC, MAC)


def test_unsolicited_na_matches_send_ua_except_the_kernel_chosen_flow_label() -> None:
    captured = Ether(frames("send_ua-2001_db8__60.hex")[0])
    ours = Ether(arp.unsolicited_na(MAC, "2001:db8::60"))
    captured[IPv6].fl = 0
    assert bytes(ours) == bytes(captured)


def test_probe_uses_a_zero_sender_address() -> None:
    probe = Ether(arp.arp_probe(OTHER, IP))[ARP]
    assert (probe.op, probe.psrc, probe.pdst, probe.hwsrc) == (1, "0.0.0.0", IP, OTHER)


def test_linux_reply_to_a_probe_is_a_conflict_naming_the_holder() -> None:
    reply = frames("linux-reply-to-arp-probe.hex")[0]
    assert arp.conflict_mac(reply, IP, OTHER) == MAC


def test_linux_answer_to_a_dad_solicitation_is_a_conflict() -> None:
    answer = frames("linux-na-reply-to-dad-ns.hex")[0]
    assert arp.conflict_mac(answer, "2001:db8::60", OTHER) == MAC


def test_frames_about_other_addresses_or_from_ourselves_are_no_conflict() -> None:
    reply = frames("linux-reply-to-arp-probe.hex")[0]
    assert arp.conflict_mac(reply, "198.51.100.61", OTHER) is None
    assert arp.conflict_mac(reply, IP, MAC) is None
    assert arp.conflict_mac(arp.arp_probe(OTHER, IP), IP, MAC) is None  # a probe has no sender address


def test_someone_else_probing_the_same_ipv6_address_is_a_conflict() -> None:
    assert arp.conflict_mac(arp.ns_probe(OTHER, "2001:db8::60"), "2001:db8::60", MAC) == OTHER


def test_solicited_node_group() -> None:
    assert arp.solicited_node("2001:db8::1:5") == ("ff02::1:ff01:5", "33:33:ff:01:00:05")


def test_announcement_per_family() -> None:
    assert len(arp.announcement(MAC, IP)) == 2
    assert len(arp.announcement(MAC, "2001:db8::60")) == 1


def test_cancelled_burst_sends_nothing_more() -> None:
    burst = arp.Burst("nonexistent0", (b"",), remaining=3, interval_s=0.01)
    burst.cancelled.set()
    burst._run_quietly()  # the interface does not exist: must neither raise nor count a round
    assert burst.sent == 0


def test_frames_built_in_a_child_process_are_the_ones_scapy_builds_here() -> None:
    arp._FRAMES.clear()
    try:
        import sys

        loaded = sys.modules.pop("scapy.layers.l2")  # as in a daemon that never imported scapy
        try:
            arp.prepare_frames(MAC.upper(), IP)
        finally:
            sys.modules["scapy.layers.l2"] = loaded
        assert arp.probe_frame(MAC, IP) == arp.arp_probe(MAC, IP)
        assert arp.announcement(MAC, IP) == arp.garp_pair(MAC, IP)
        arp.prepare_frames(MAC, "2001:db8::60")  # scapy loaded here: built in process
        assert arp.announcement(MAC, "2001:db8::60") == (arp.unsolicited_na(MAC, "2001:db8::60"),)
    finally:
        arp._FRAMES.clear()


def test_arp_frames_from_other_senders_are_ruled_out_without_decoding() -> None:
    """The fixed-offset check on the sender address agrees with scapy's decoding on every kind of frame."""
    others = [arp.garp_pair(MAC, "198.51.100.61")[1], arp.arp_probe(MAC, IP), arp.garp_pair(OTHER, "192.0.2.1")[0]]
    for frame in others:
        assert frame[arp.ARP_SPA] != bytes([int(x) for x in IP.split(".")])
        assert arp.conflict_mac(frame, IP, OTHER) is None
    assert arp.conflict_mac(arp.garp_pair(MAC, IP)[1], IP, OTHER) == MAC  # same sender: decoded, a conflict


def scapy_conflict_mac(frame: bytes, ip: str, own_mac: str) -> str | None:
    """The decision as scapy's decoding makes it: the reference the byte offsets must agree with."""
    from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr

    pkt = Ether(frame)
    if pkt.src.lower() == own_mac.lower():
        return None
    if ARP in pkt:
        return str(pkt[ARP].hwsrc) if pkt[ARP].psrc == ip else None
    if ICMPv6ND_NA in pkt and pkt[ICMPv6ND_NA].tgt == ip:
        opt = pkt.getlayer(ICMPv6NDOptDstLLAddr)
        return str(opt.lladdr) if opt is not None else str(pkt.src)
    if ICMPv6ND_NS in pkt and pkt[ICMPv6ND_NS].tgt == ip and pkt[IPv6].src == "::":
        return str(pkt.src)
    return None


def test_byte_offsets_decide_as_scapy_decodes() -> None:
    from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr
    from scapy.layers.l2 import Dot1Q

    v6, v6_other, third = "2001:db8::60", "2001:db8::61", "02:00:00:00:05:0c"
    cases = [*frames("linux-reply-to-arp-probe.hex"), *frames("linux-na-reply-to-dad-ns.hex"),
             *frames("send_arp-198.51.100.60.hex"), *frames("send_ua-2001_db8__60.hex")]
    for mac in (MAC, OTHER, third):
        for addr in (IP, "198.51.100.61"):
            cases += [*arp.garp_pair(mac, addr), arp.arp_probe(mac, addr)]
            cases.append(bytes(Ether(src=mac, dst=OTHER) / ARP(op=2, hwsrc=third, psrc=addr, pdst=IP)))
            cases.append(bytes(Ether(src=mac, dst=arp.BROADCAST) / Dot1Q(vlan=5)
                               / ARP(op=2, hwsrc=mac, psrc=addr)))
        for addr in (v6, v6_other):
            cases += [arp.ns_probe(mac, addr), arp.unsolicited_na(mac, addr)]
            cases.append(bytes(Ether(src=mac) / IPv6(src="fe80::1", dst=addr) / ICMPv6ND_NS(tgt=addr)
                               / ICMPv6NDOptSrcLLAddr(lladdr=mac)))
            cases.append(bytes(Ether(src=mac) / IPv6(src="fe80::1", dst="ff02::1") / ICMPv6ND_NA(tgt=addr)))
            cases.append(bytes(Ether(src=mac) / IPv6(src="fe80::1", dst="ff02::1") / ICMPv6ND_NA(tgt=addr)
                               / ICMPv6NDOptSrcLLAddr(lladdr=OTHER) / ICMPv6NDOptDstLLAddr(lladdr=third)))
    cases += [case[:n] for case in cases[:6] for n in (0, 13, 20, 41)]  # truncated frames claim nothing
    decided = 0
    for frame in cases:
        for addr in (IP, "198.51.100.61", v6, v6_other):
            for own in (MAC, OTHER):
                try:
                    expected = scapy_conflict_mac(frame, addr, own)
                except Exception:  # scapy refuses some truncated frames: no claim either way
                    expected = None
                assert arp.conflict_mac(frame, addr, own) == expected, (frame.hex(), addr, own)
                decided += expected is not None
    assert decided > 50  # the comparison covers claims, not only frames that claim nothing


def test_deciding_a_frame_for_the_address_does_not_import_scapy() -> None:
    import subprocess
    import sys

    reply = arp.garp_pair(MAC, IP)[1].hex()
    code = ("import sys; from hbd.agents import arp; "
            f"print(arp.conflict_mac(bytes.fromhex('{reply}'), '{IP}', '{OTHER}'), "
            "any(name.startswith('scapy') for name in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == [MAC, "False"]
