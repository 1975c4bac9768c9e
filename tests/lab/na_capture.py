"""Print every IPv6 neighbour advertisement seen on an interface as a JSON line, until killed or timed out."""
from __future__ import annotations

import json
import select
import socket
import sys
import time

from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr
from scapy.layers.l2 import Ether

ETH_P_IPV6 = 0x86DD


def main(iface: str, seconds: float) -> None:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IPV6))
    sock.bind((iface, ETH_P_IPV6))
    print("ready", flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ready, _, _ = select.select([sock], [], [], 0.05)
        if not ready:
            continue
        frame = sock.recv(2048)
        now = time.monotonic()
        pkt = Ether(frame)
        if ICMPv6ND_NA in pkt:
            opt = pkt.getlayer(ICMPv6NDOptDstLLAddr)
            print(json.dumps({"t": now, "tgt": pkt[ICMPv6ND_NA].tgt, "src": pkt.src, "dst": pkt.dst,
                              "O": int(pkt[ICMPv6ND_NA].O), "lladdr": opt.lladdr if opt else None}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
