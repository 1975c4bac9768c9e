"""A flood of bad-HMAC and garbage datagrams at the heartbeat port, from the lab's client namespace.

The client sits on the eth0 bridge with an address of the medium's network (192.0.2.0/24) but is no
cluster node: what it sends passes the transport's on-network check and must be refused by the cheaper
checks after it (length, source learning, authentication). The flooder is a small Python program that sends
with sendmmsg(2) through ctypes, 256 datagrams per system call, from several processes: on this kind of
machine the kernel's path (veth, bridge, the receiving socket) is then the limit, not Python. It runs for a
bounded time and prints how many datagrams it sent. Used by tests/lab/test_flood_lab.py and bench/flood.py.
"""
from __future__ import annotations

import re
import sys
import textwrap
from dataclasses import dataclass

from hbd.lab import Lab

FLOODER = textwrap.dedent("""
    import ctypes, ctypes.util, os, random, socket, struct, sys, time
    from hbd.config.model import AuthKey, AuthKeys
    from hbd.core import messages as m
    targets, seconds, procs = sys.argv[1].split(","), float(sys.argv[2]), int(sys.argv[3])
    claimed = sys.argv[4].split(",")  # node names the forgeries claim to come from
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    class iovec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
    class msghdr(ctypes.Structure):
        _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32), ("iov", ctypes.POINTER(iovec)),
                    ("iovlen", ctypes.c_size_t), ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                    ("flags", ctypes.c_int)]
    class mmsghdr(ctypes.Structure):
        _fields_ = [("hdr", msghdr), ("len", ctypes.c_uint)]
    rng = random.Random(10)
    wrong = AuthKeys("f", 1, (AuthKey(1, "sha1", b"not-the-key"),))
    def forged(i):  # a well-formed status in a node's name, signed with a wrong key: costs an HMAC to refuse
        body = [("t", "status"), ("st", "active"), ("dt", "1f4"), ("protocol", "1")]
        sender = m.Sender(claimed[i % len(claimed)], bytes(16), 1700000000 + i, 3)
        return m.encode(m.with_control_fields(body, sender, seq=1000 + i, ts=0, load="0.00"), wrong)
    payloads = []
    for i in range(64):
        kind = i % 4
        if kind < 2:
            payloads.append(forged(i))
        elif kind == 2:
            payloads.append(rng.randbytes(rng.randint(1, 600)))  # garbage
        else:
            payloads.append(forged(i)[:rng.randint(1, 200)])  # truncated
    BATCH = 256
    def run():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        keep, vec = [], (mmsghdr * BATCH)()
        for i in range(BATCH):
            address, data = targets[i % len(targets)], payloads[(i * 7) % len(payloads)]
            sa = ctypes.create_string_buffer(struct.pack("=HH4s8x", socket.AF_INET, socket.htons(694),
                                                         socket.inet_aton(address)), 16)
            buf = ctypes.create_string_buffer(data, len(data))
            iov = iovec(ctypes.cast(buf, ctypes.c_void_p), len(data))
            keep += [sa, buf, iov]
            vec[i].hdr.name, vec[i].hdr.namelen = ctypes.cast(sa, ctypes.c_void_p), 16
            vec[i].hdr.iov, vec[i].hdr.iovlen = ctypes.pointer(iov), 1
        fd, sent, end = s.fileno(), 0, time.monotonic() + seconds
        while time.monotonic() < end:
            n = libc.sendmmsg(fd, vec, BATCH, 0)
            sent += max(n, 0)
        return sent
    r, w = os.pipe()
    kids = []
    for _ in range(procs):
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.write(w, f"{run()}\\n".encode())
            os._exit(0)
        kids.append(pid)
    os.close(w)
    for pid in kids:
        os.waitpid(pid, 0)
    print(sum(int(x) for x in os.fdopen(r).read().split()))
""")


@dataclass(frozen=True)
class FloodResult:
    sent: int
    seconds: float
    received: dict[str, int]  # node -> datagrams its kernel took for port 694 during the flood (UDP InDatagrams)
    queue_drops: dict[str, int]  # node -> datagrams dropped because a receive queue was full (RcvbufErrors)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds


def udp_counters(lab: Lab, node: str) -> tuple[int, int]:
    """(InDatagrams, RcvbufErrors) of the node's network namespace."""
    text = lab.exec(node, ["cat", "/proc/net/snmp"]).stdout
    header, values = [line.split()[1:] for line in text.splitlines() if line.startswith("Udp:")][:2]
    row = dict(zip(header, (int(v) for v in values)))
    return row["InDatagrams"], row["RcvbufErrors"]


def flood(lab: Lab, seconds: float, procs: int = 1, realtime: bool = True,
          claimed: tuple[str, ...] = ("n1", "n2")) -> FloodResult:
    """Flood n1 (unicast) and every node on eth0 (broadcast) from the client for `seconds`.

    `realtime`: the flooder runs SCHED_FIFO above the daemons (which run SCHED_RR 1), standing in for a
    flooding host with CPUs of its own: on a 2-CPU machine shared with the daemons it otherwise gets only
    what they leave. Keep procs at 1 then, or the daemons get no CPU at all."""
    targets = [lab.address("n1", 0), re.sub(r"\.\d+$", ".255", lab.address("n1", 0))]
    before = {n: udp_counters(lab, n) for n in lab.nodes}
    prefix = ["chrt", "-f", "2"] if realtime else []
    done = lab.client_exec([*prefix, sys.executable, "-c", FLOODER, ",".join(targets), str(seconds), str(procs),
                            ",".join(claimed)], timeout=seconds + 30)
    after = {n: udp_counters(lab, n) for n in lab.nodes}
    return FloodResult(int(done.stdout), seconds, {n: after[n][0] - before[n][0] for n in lab.nodes},
                       {n: after[n][1] - before[n][1] for n in lab.nodes})


FALSE_DEATH = ("is dead", "No local heartbeat")


def false_deaths(log: str) -> list[str]:
    """Lines of a log (hbd's or Heartbeat's) that declare a node dead or the own heartbeat lost."""
    return [line for line in log.splitlines() if any(mark in line for mark in FALSE_DEATH)]
