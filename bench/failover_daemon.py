"""Figures: outages of the hbd daemon in the lab (two hbd nodes, a VIP group of IPaddr2 + a small service).

Per timing (keepalive/deadtime), per run, on a fresh lab:
- hbd-standby outage: `hbd-standby` on the holder, then on the other node (two handovers);
- power-off outage: the holder is powered off; the client sees the VIP again from the other node;
- takeover overhead: from the survivor declaring the peer dead to the VIP answering from it.
Outages come from a client probe that starts a TCP connection to the VIP every 2 ms (each may take up to
10 ms; attempts overlap) and records when each attempt STARTED: an outage is from the start of the last
answered attempt before it to the start of the first answered attempt after it (an upper bound; the
resolution is 2 ms).
"""
from __future__ import annotations

import argparse
import os
import selectors
import socket
import struct
import statistics
import sys
import threading
import time
from typing import Callable

from hbd.lab import Lab, netns
from hbd.lab.hbd_cluster import ClusterSettings, HbdCluster
from hbd.lab.layout import RESPONDER_PORT

TIMINGS = {"1s/3s": (1000, 3000), "100ms/500ms": (100, 500), "10ms/50ms": (10, 50)}
TARGET_MS = 20.0


class FineProbe:
    """Asks the VIP from the client namespace every `interval` s; keeps (attempt start, answerer).

    Attempts overlap: a new one starts every `interval` whether or not earlier ones have been answered or
    have timed out, so the resolution stays `interval` during an outage too (a blocking probe would wait
    out each attempt's timeout and blur the outage by that much).
    """

    def __init__(self, lab: Lab, vip: str, interval: float = 0.002, timeout: float = 0.01):
        self.lab, self.vip, self.interval, self.timeout = lab, vip, interval, timeout
        self._results: list[tuple[float, str | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fine-probe", daemon=True)

    def __enter__(self) -> "FineProbe":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def samples(self) -> list[tuple[float, str | None]]:
        return sorted(list(self._results))

    def _attempt(self, sel: selectors.BaseSelector, now: float) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # no TIME_WAIT pile-up
        sock.setblocking(False)
        sock.connect_ex((self.vip, RESPONDER_PORT))
        sel.register(sock, selectors.EVENT_WRITE, [now, "connect"])

    def _finish(self, sel: selectors.BaseSelector, sock: socket.socket, start: float, answer: str | None) -> None:
        sel.unregister(sock)
        sock.close()
        self._results.append((start, answer))

    def _run(self) -> None:
        netns.enter(self.lab.client_netns)
        sel = selectors.DefaultSelector()
        next_at = time.monotonic()
        deadline = next_at + 600
        while not self._stop.is_set() and time.monotonic() < deadline:
            now = time.monotonic()
            if now >= next_at:
                self._attempt(sel, now)
                next_at = max(next_at + self.interval, now)
            for key, _ in sel.select(max(0.0, next_at - time.monotonic())):
                sock, (start, stage) = key.fileobj, key.data
                if stage == "connect":
                    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):  # type: ignore[union-attr]
                        self._finish(sel, sock, start, None)  # type: ignore[arg-type]
                    else:
                        sel.modify(sock, selectors.EVENT_READ, [start, "read"])
                    continue
                try:
                    answer = sock.recv(64).decode(errors="replace").strip() or None  # type: ignore[union-attr]
                except OSError:
                    answer = None
                self._finish(sel, sock, start, answer)  # type: ignore[arg-type]
            now = time.monotonic()
            for key in list(sel.get_map().values()):
                if now - key.data[0] > self.timeout:
                    self._finish(sel, key.fileobj, key.data[0], None)  # type: ignore[arg-type]
        for key in list(sel.get_map().values()):
            self._finish(sel, key.fileobj, key.data[0], None)  # type: ignore[arg-type]

    def first_answer(self, node: str, after: float) -> float | None:
        return next((t for t, a in list(self.samples) if t >= after and a == node), None)

    def outage(self, after: float, node: str) -> float | None:
        """From the last answered attempt before the first silence after `after`, to `node` answering."""
        samples = [s for s in list(self.samples) if s[0] >= after]
        last_ok: float | None = None
        for t, answer in samples:
            if answer is None:
                break
            last_ok = t
        back = next((t for t, a in samples if a == node and (last_ok is None or t > last_ok)), None)
        if back is None or last_ok is None:
            return None
        return back - last_ok


def wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise SystemExit(f"timed out waiting for {what}")


def dead_declared_at(cluster: HbdCluster, node: str, peer: str) -> float | None:
    st = cluster.status(node)
    if st is None:
        return None
    return next((t["monotonic"] for t in st["transitions"] if t["text"] == f"node {peer}: dead"), None)


def one_run(keepalive_ms: int, deadtime_ms: int) -> dict[str, float]:
    settings = ClusterSettings(keepalive_ms=keepalive_ms, deadtime_ms=deadtime_ms, initdead_ms=2 * deadtime_ms)
    lab = Lab.up(nodes=2, media=2)
    cluster = HbdCluster(lab, settings)
    figures: dict[str, float] = {}
    try:
        cluster.write_config()
        started = time.monotonic()
        cluster.start("n1")
        cluster.start("n2")
        cluster.wait_owner("n1", timeout=30)
        cluster.wait_owner("n1", timeout=10, ask="n2")
        with FineProbe(lab, settings.vip) as probe:
            wait(lambda: probe.first_answer("n1", started) is not None, 10, "the VIP on n1")
            for giver, taker, name in (("n1", "n2", "standby n1->n2"), ("n2", "n1", "standby n2->n1")):
                mark = time.monotonic()
                done = cluster.cli(giver, ["hbd-standby"])
                if done.returncode != 0:
                    raise SystemExit(f"hbd-standby on {giver} failed: {done.stderr}")
                wait(lambda: probe.first_answer(taker, mark) is not None, 10, f"the VIP on {taker}")
                gap = probe.outage(mark, taker)
                if gap is not None:
                    figures[name] = gap
            cluster.wait_owner("n1", timeout=10, ask="n2")
            cluster.wait_configured_deadtime("n2", "n1")  # not the start-up deadtime (deadtime + 2 s)
            off = time.monotonic()
            cluster.power_off("n1")
            wait(lambda: probe.first_answer("n2", off) is not None, 30, "the VIP on n2 after the power-off")
            answered = probe.first_answer("n2", off)
            gap = probe.outage(off - 0.001, "n2")
        dead = dead_declared_at(cluster, "n2", "n1")
        assert answered is not None
        figures["power-off: to VIP answering"] = answered - off
        if gap is not None:
            figures["power-off outage"] = gap
        if dead is not None:
            figures["takeover overhead"] = answered - dead
    finally:
        cluster.close()
        lab.down()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--timing", choices=[*TIMINGS, "all"], default="all")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("failover_daemon: needs root (network namespaces)", file=sys.stderr)
        return 2
    for name, (keepalive, deadtime) in TIMINGS.items():
        if args.timing not in (name, "all"):
            continue
        samples: dict[str, list[float]] = {}
        for run in range(args.runs):
            for key, value in one_run(keepalive, deadtime).items():
                samples.setdefault(key, []).append(value)
            print(f"  {name} run {run + 1}/{args.runs} done", file=sys.stderr, flush=True)
        print(f"\nkeepalive {keepalive} ms, deadtime {deadtime} ms ({args.runs} runs)")
        print(f"| what | median | min | max | n |\n|---|---|---|---|---|")
        for key, values in samples.items():
            print(f"| {key} | {statistics.median(values) * 1000:.0f} ms | {min(values) * 1000:.0f} ms | "
                  f"{max(values) * 1000:.0f} ms | {len(values)} |")
    print(f"\ntargets: takeover overhead <= {TARGET_MS:.0f} ms, handover (standby) outage <= {TARGET_MS:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
