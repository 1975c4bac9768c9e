"""Figures: outages of hbd, Heartbeat 3.0.6 and keepalived in the lab (two nodes, a VIP; for hbd and
Heartbeat a group of IPaddr2 + a small service, for keepalived a VRRP instance), per daemon (bench/pairs.py).

Per timing (keepalive/deadtime; keepalived: advert_int = keepalive), per run, on a fresh lab:
- handover outage: the graceful move (hbd-standby, hb_standby, keepalived's SIGTERM) n1 -> n2 -> n1;
- power-off outage: the holder is powered off; the client sees the VIP again from the other node;
- detection: from the power-off to the survivor declaring the peer dead (hbd: its transition time;
  Heartbeat and keepalived: the moment their log line is seen, polled every 5 ms);
- reaction beyond detection: from that declaration to the VIP answering from the survivor.

    sudo .venv/bin/python bench/failover_daemon.py --runs 10 --daemon hbd heartbeat keepalived
Outages come from a client probe that starts a TCP connection to the VIP every 2 ms (each may take up to
10 ms; attempts overlap) and records when each attempt STARTED: an outage is from the start of the last
answered attempt before it to the start of the first answered attempt after it (an upper bound; the
resolution is 2 ms).
"""
from __future__ import annotations

import argparse
import json
import os
import selectors
import socket
import struct
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from hbd.lab import Lab, netns
from hbd.lab.hbd_cluster import ClusterSettings
from hbd.lab.layout import RESPONDER_PORT

from pairs import PAIRS

TIMINGS = {"1s/3s": (1000, 3000), "100ms/500ms": (100, 500), "10ms/50ms": (10, 50)}
TARGET_MS = 20.0
MAX_FAILED_RUNS = 3  # per cell: a run that fails (a daemon that did not come up) is retried this often


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
        """From the last answered attempt before `node` first answers after `after`, to that answer.

        A move without any unanswered attempt still counts (as the probe interval), so a seamless
        handover is a figure too, not a missing one.
        """
        samples = list(self.samples)
        back = next((t for t, a in samples if t >= after and a == node), None)
        if back is None:
            return None
        last_ok = max((t for t, a in samples if t < back and a is not None and a != node), default=None)
        if last_ok is None:
            return None
        return back - last_ok


def wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise SystemExit(f"timed out waiting for {what}")


def one_run(daemon: str, keepalive_ms: int, deadtime_ms: int) -> dict[str, float]:
    lab = Lab.up(nodes=2, media=2)
    pair = PAIRS[daemon](lab, keepalive_ms, deadtime_ms)
    figures: dict[str, float] = {}
    try:
        started = time.monotonic()
        pair.start()
        vip = ClusterSettings().vip
        with FineProbe(lab, vip) as probe:
            wait(lambda: probe.first_answer("n1", started) is not None, 10, "the VIP on n1")
            for giver, taker, name in (("n1", "n2", "handover n1->n2"), ("n2", "n1", "handover n2->n1")):
                mark = time.monotonic()
                pair.handover(giver)
                wait(lambda: probe.first_answer(taker, mark) is not None, 30, f"the VIP on {taker}")
                gap = probe.outage(mark, taker)
                if gap is not None:
                    figures[name] = gap
                time.sleep(getattr(pair, "settle_after_move_s", 0.5))  # the move finished on both sides
            wait(lambda: probe.first_answer("n1", time.monotonic() - 0.05) is not None, 30, "the VIP back on n1")
            time.sleep(max(0.5, 3 * keepalive_ms / 1000))  # settled: the next heartbeats exchanged
            watcher = None
            if hasattr(pair, "watch_detection"):
                watcher = threading.Thread(target=pair.watch_detection, args=("n2", "n1", deadtime_ms / 1000 + 30))
                watcher.start()
            off = time.monotonic()
            pair.power_off("n1")
            wait(lambda: probe.first_answer("n2", off) is not None, 60, "the VIP on n2 after the power-off")
            answered = probe.first_answer("n2", off)
            gap = probe.outage(off - 0.001, "n2")
            if watcher is not None:
                watcher.join(timeout=deadtime_ms / 1000 + 35)
        dead = pair.detected("n2", "n1", off)
        assert answered is not None
        figures["power-off: to VIP answering"] = answered - off
        if gap is not None:
            figures["power-off outage"] = gap
        if dead is not None:
            figures["detection (power-off to dead)"] = dead - off
            figures["reaction beyond detection"] = answered - dead
    finally:
        pair.close()
        lab.down()
    return figures


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--timing", choices=[*TIMINGS, "all"], nargs="+", default=["all"])
    parser.add_argument("--daemon", choices=list(PAIRS), nargs="+", default=["hbd"])
    parser.add_argument("--json", type=Path, help="append the figures here (read by run_all.py)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("failover_daemon: needs root (network namespaces)", file=sys.stderr)
        return 2
    cells: list[dict[str, object]] = []
    failed_cells: list[str] = []
    for daemon in args.daemon:
        for name, (keepalive, deadtime) in TIMINGS.items():
            if "all" not in args.timing and name not in args.timing:
                continue
            samples: dict[str, list[float]] = {}
            done = failures = 0
            while done < args.runs and failures <= MAX_FAILED_RUNS:
                try:
                    figures = one_run(daemon, keepalive, deadtime)
                except (SystemExit, Exception) as exc:  # noqa: BLE001 - a failed run is counted, then retried
                    failures += 1
                    print(f"  {daemon} {name}: run failed ({exc}); {failures} failed so far", file=sys.stderr,
                          flush=True)
                    continue
                for key, value in figures.items():
                    samples.setdefault(key, []).append(value)
                done += 1
                print(f"  {daemon} {name} run {done}/{args.runs} done", file=sys.stderr, flush=True)
            print(f"\n{daemon}: keepalive {keepalive} ms, deadtime {deadtime} ms ({done} runs, {failures} failed)")
            cells.append({"kind": "failover-runs", "daemon": daemon, "timing": name, "runs": done,
                          "failed": failures})
            if done < args.runs:
                failed_cells.append(f"{daemon} {name}")
            print("| what | median | min | max | n |\n|---|---|---|---|---|")
            for key, values in samples.items():
                s = summary(values)
                print(f"| {key} | {s['median'] * 1000:.0f} ms | {s['min'] * 1000:.0f} ms | "
                      f"{s['max'] * 1000:.0f} ms | {len(values)} |", flush=True)
                cells.append({"kind": "failover", "daemon": daemon, "timing": name, "what": key, "unit": "s",
                              "values": values})
            if args.json:  # written per cell: a later failure loses nothing measured
                with args.json.open("a") as out:
                    for cell in cells:
                        out.write(json.dumps(cell) + "\n")
            cells.clear()
    print(f"\ntargets: reaction beyond detection <= {TARGET_MS:.0f} ms, handover outage <= {TARGET_MS:.0f} ms")
    return 1 if failed_cells else 0


if __name__ == "__main__":
    sys.exit(main())
