"""Link impairment (loss, delay, duplication): tc netem when the kernel has it, else a userspace relay.

Without sch_netem the node's switch port is taken off the bridge and a relay process in the switch
namespace carries frames between it and a fresh veth on the bridge, dropping, delaying and duplicating
them. Both directions are impaired. The relay keeps each frame's virtio-net header (PACKET_VNET_HDR) so
checksum and segmentation offloads pass through untouched.
"""
from __future__ import annotations

import argparse
import heapq
import random
import select
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from hbd.errors import LabError
from hbd.lab import nodes
from hbd.lab.netns import netns_path
from hbd.lab.shell import ip_batch, run

if TYPE_CHECKING:
    from hbd.lab.lab import Lab

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_VNET_HDR = 15
PACKET_IGNORE_OUTGOING = 23
MAX_FRAME = 65536 + 64


@dataclass(frozen=True)
class Impairment:
    loss: float = 0.0
    delay_ms: float = 0.0
    duplicate: float = 0.0

    @classmethod
    def make(cls, loss: float | None, delay_ms: float | None, duplicate: float | None) -> "Impairment":
        spec = cls(float(loss or 0), float(delay_ms or 0), float(duplicate or 0))
        for field, value, top in (("loss", spec.loss, 100), ("duplicate", spec.duplicate, 100),
                                  ("delay_ms", spec.delay_ms, 60000)):
            if not 0 <= value <= top:
                raise ValueError(f"{field} must be within 0..{top}, not {value}")
        return spec

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def netem_args(self) -> list[str]:
        return ["loss", f"{self.loss}%", "delay", f"{self.delay_ms}ms", "duplicate", f"{self.duplicate}%"]


def apply(lab: "Lab", node: str, medium: int, spec: Impairment) -> str:
    """Install the impairment; returns how ('netem' or 'relay:<pid>')."""
    layout = lab.layout
    node_side = ["tc", "-n", layout.netns(node), "qdisc", "replace", "dev", layout.node_iface(medium), "root", "netem"]
    probe = run(node_side + spec.netem_args(), check=False)
    if probe.returncode == 0:
        run(["tc", "-n", layout.switch_netns, "qdisc", "replace", "dev", layout.switch_port(node, medium),
             "root", "netem", *spec.netem_args()])
        return "netem"
    if "unknown" not in probe.stderr.lower():
        raise LabError(f"tc netem on {node} eth{medium}: {probe.stderr.strip()}")
    return _start_relay(lab, node, medium, spec)


def remove(lab: "Lab", node: str, medium: int, via: str) -> None:
    layout = lab.layout
    if via == "netem":
        run(["tc", "-n", layout.netns(node), "qdisc", "del", "dev", layout.node_iface(medium), "root"], check=False)
        run(["tc", "-n", layout.switch_netns, "qdisc", "del", "dev", layout.switch_port(node, medium), "root"],
            check=False)
        return
    pid = int(via.split(":", 1)[1])
    cg = lab.cgroup("switch")
    if pid in cg.pids():
        import os
        import signal

        os.kill(pid, signal.SIGKILL)
    port, inner = layout.switch_port(node, medium), layout.relay_inner(node, medium)
    ip_batch(layout.switch_netns, [f"link del {inner}", f"link set {port} master {layout.bridge(medium)}"])


def _start_relay(lab: "Lab", node: str, medium: int, spec: Impairment) -> str:
    layout = lab.layout
    port, inner, outer = layout.switch_port(node, medium), layout.relay_inner(node, medium), layout.relay_port(node, medium)
    ip_batch(layout.switch_netns, [
        f"link set {port} nomaster",
        f"link add {inner} type veth peer name {outer}",
        f"link set {outer} master {layout.bridge(medium)} up",
        f"link set {inner} up",
    ])
    argv = ["nsenter", f"--net={netns_path(layout.switch_netns)}", "--", sys.executable, "-m", "hbd.lab.impair",
            "--a", port, "--b", inner, "--loss", str(spec.loss), "--delay-ms", str(spec.delay_ms),
            "--duplicate", str(spec.duplicate)]
    proc = lab._popen(lab.cgroup("switch"), argv, nodes.base_env(layout, None, None),
                      {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE})
    nodes.wait_ready(proc, f"impairment relay for {node} eth{medium}")
    return f"relay:{proc.pid}"


# ---- the relay process ----------------------------------------------------------------------------
def _packet_socket(iface: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    sock.bind((iface, ETH_P_ALL))
    sock.setblocking(False)
    return sock


def relay(a: str, b: str, spec: Impairment, rng: random.Random) -> None:
    socks = {a: _packet_socket(a), b: _packet_socket(b)}
    peer = {socks[a].fileno(): socks[b], socks[b].fileno(): socks[a]}
    queue: list[tuple[float, int, socket.socket, bytes]] = []
    counter = 0
    delay = spec.delay_ms / 1000.0
    print("ready", flush=True)
    sys.stdout.close()
    while True:
        timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else None
        readable, _, _ = select.select(list(socks.values()), [], [], timeout)
        for sock in readable:
            for _ in range(64):  # bounded burst per wake-up, then look at the timers again
                try:
                    frame = sock.recv(MAX_FRAME)
                except BlockingIOError:
                    break
                if rng.random() * 100 < spec.loss:
                    continue
                copies = 2 if rng.random() * 100 < spec.duplicate else 1
                due = time.monotonic() + delay
                for _ in range(copies):
                    counter += 1
                    heapq.heappush(queue, (due, counter, peer[sock.fileno()], frame))
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, out, frame = heapq.heappop(queue)
            try:
                out.send(frame)
            except OSError:
                pass  # link down (cable pulled): the frame is lost, as on a wire


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hbd.lab.impair")
    parser.add_argument("--a", required=True)
    parser.add_argument("--b", required=True)
    parser.add_argument("--loss", type=float, default=0.0)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--duplicate", type=float, default=0.0)
    args = parser.parse_args(argv)
    spec = Impairment.make(args.loss, args.delay_ms, args.duplicate)
    relay(args.a, args.b, spec, random.Random())
    return 0


if __name__ == "__main__":
    sys.exit(main())
