"""A classic BPF filter on each heartbeat receive socket: the cheapest drops happen in the kernel.

A datagram that cannot be a heartbeat message (shorter than the smallest one, longer than Heartbeat's
MAXMSG, not starting with `###\\n` or `>>>\\n`) or that comes from outside the medium's network never reaches
the receive queue: it takes no queue space a node's packet needs and costs the daemon nothing. What passes
is checked again in the daemon (the filter is best effort: a kernel that refuses it loses only speed).

For a UDP socket the filter sees the UDP header at offset 0 (the payload at 8); the IP header is reached
through SKF_NET_OFF. A return value of 0 drops the datagram, anything else keeps it whole.

Under a flood (the daemon's budget for unknown sources runs out, admission.py) the filter is replaced by a
stricter one for that medium: the source addresses of known nodes pass, any other passes one datagram in
64 at random (the kernel's SKF_AD_RANDOM), so the daemon still hears, and learns, a node it did not know.
"""
from __future__ import annotations

import ctypes
import socket
import struct

from hbd.core.messages import CLASSIC_START, MAX_MESSAGE, NETSTRING_START

SO_ATTACH_FILTER = 26
UDP_HEADER = 8
MIN_MESSAGE = len(NETSTRING_START) + len(b"%%%\n") + len(b"4:1 x,")  # markers and the shortest auth netstring
SKF_NET_OFF = -0x100000
# instruction classes and modes (linux/filter.h)
LD_W_LEN, LD_W_ABS, ALU_AND_K, JMP_JEQ_K, JMP_JGE_K, JMP_JGT_K, RET_K = 0x80, 0x20, 0x54, 0x15, 0x35, 0x25, 0x06
KEEP, DROP = 0xFFFFFFFF, 0
MAX_NETWORKS = 60
SOURCE = (SKF_NET_OFF + 12) & 0xFFFFFFFF  # the IPv4 source address
RANDOM = (-0x1000 + 56) & 0xFFFFFFFF  # SKF_AD_OFF + SKF_AD_RANDOM: a random 32-bit number
SAMPLE_SHIFT = 6  # flood mode: one datagram in 64 from an unknown source reaches the daemon

Network = tuple[int, int]  # (network, mask) as 32-bit integers


Insn = tuple[int, int | str, int | str, int]  # (code, jt, jf, k): a jump is 0 (next) or a label


def _assemble(code: list[Insn | str]) -> list[tuple[int, int, int, int]]:
    """Resolve labels (plain strings in the list) into the relative jump offsets BPF wants."""
    where: dict[str, int] = {}
    insns: list[Insn] = []
    for item in code:
        if isinstance(item, str):
            where[item] = len(insns)
        else:
            insns.append(item)

    def offset(target: int | str, at: int) -> int:
        return target if isinstance(target, int) else where[target] - at - 1

    return [(c, offset(jt, i), offset(jf, i), k) for i, (c, jt, jf, k) in enumerate(insns)]


def program(networks: list[Network] | None, known: list[int] | None = None,
            sample_shift: int = SAMPLE_SHIFT) -> list[tuple[int, int, int, int]]:
    """(code, jt, jf, k) instructions. `networks` None: any source (routed multicast). `known` (flood mode):
    only these source addresses pass whole; any other source passes one datagram in 2**sample_shift, at
    random, so a node not yet known is still heard and learned."""
    if networks is not None and len(networks) > MAX_NETWORKS:
        networks = None  # jump offsets are 8 bits: past this the daemon's own source check does it alone
    if known is not None and len(known) > MAX_NETWORKS:
        known = None
    after_network = "known" if known is not None else "keep"
    code: list[Insn | str] = [
        (LD_W_LEN, 0, 0, 0),
        (JMP_JGE_K, 0, "drop", UDP_HEADER + MIN_MESSAGE),
        (JMP_JGT_K, "drop", 0, UDP_HEADER + MAX_MESSAGE),
        (LD_W_ABS, 0, 0, UDP_HEADER),
        (JMP_JEQ_K, "network", 0, struct.unpack("!I", NETSTRING_START)[0]),
        (JMP_JEQ_K, "network", "drop", struct.unpack("!I", CLASSIC_START)[0]),
        "network",
    ]
    if networks is None:
        code.append((JMP_JEQ_K, after_network, after_network, 0))  # an unconditional jump
    else:
        for network, mask in networks:
            code += [(LD_W_ABS, 0, 0, SOURCE), (ALU_AND_K, 0, 0, mask), (JMP_JEQ_K, after_network, 0, network)]
        code.append((JMP_JEQ_K, "drop", "drop", 0))
    if known is not None:
        code += ["known", (LD_W_ABS, 0, 0, SOURCE)]
        code += [(JMP_JEQ_K, "keep", 0, address) for address in known]
        code += [(LD_W_ABS, 0, 0, RANDOM), (ALU_AND_K, 0, 0, (1 << sample_shift) - 1), (JMP_JEQ_K, "keep", "drop", 0)]
    code += ["drop", (RET_K, 0, 0, DROP), "keep", (RET_K, 0, 0, KEEP)]
    return _assemble(code)


def attach(sock: socket.socket, networks: list[Network] | None, known: list[int] | None = None) -> bool:
    """Attach (or replace) the filter; False if the kernel refused it (the daemon's own checks still apply)."""
    code = program(networks, known)
    raw = b"".join(struct.pack("HBBI", *insn) for insn in code)
    buf = ctypes.create_string_buffer(raw, len(raw))
    fprog = struct.pack("HL", len(code), ctypes.addressof(buf))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    except OSError:
        return False
    return True  # the kernel copied the program: buf may go
