"""Client-side probes: who answers on the VIP and when, gratuitous ARPs seen, the client's neighbour cache."""
from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from hbd.errors import LabError
from hbd.lab import netns
from hbd.lab.background import BackgroundLoop
from hbd.lab.layout import RESPONDER_PORT

if TYPE_CHECKING:
    from hbd.lab.lab import Lab

ETH_P_ARP = 0x0806
MAX_SECONDS = 600.0  # a probe left running stops by itself


class Transition(NamedTuple):
    """(t, answerer): from time.monotonic() t on, `answerer` (a node name, or None: no answer) answers."""

    t: float
    answerer: str | None


class VipProbe(BackgroundLoop):
    """Asks `vip:port` from the client namespace every `interval` s; records changes of who answers."""

    thread_name = "vip-probe"

    def __init__(self, lab: "Lab", vip: str, port: int = RESPONDER_PORT, interval: float = 0.05,
                 timeout: float = 0.2, max_seconds: float = MAX_SECONDS):
        super().__init__()
        self.lab, self.vip, self.port = lab, vip, port
        self.interval, self.timeout, self.max_seconds = interval, timeout, max_seconds
        self.transitions: list[Transition] = []
        self.asked = 0

    def ask_once(self) -> str | None:
        """One question (from the calling thread, which must be in the client namespace)."""
        try:
            with socket.create_connection((self.vip, self.port), timeout=self.timeout) as sock:
                sock.settimeout(self.timeout)
                return sock.recv(64).decode(errors="replace").strip() or None
        except OSError:
            return None

    def _run(self) -> None:
        netns.enter(self.lab.client_netns)
        deadline = time.monotonic() + self.max_seconds
        last: object = object()
        while not self._stop.is_set() and time.monotonic() < deadline:
            answer = self.ask_once()
            now = time.monotonic()
            with self._lock:
                self.asked += 1
                if answer != last:
                    self.transitions.append(Transition(now, answer))
                    last = answer
            self._stop.wait(self.interval)

    def current(self) -> str | None:
        with self._lock:
            return self.transitions[-1].answerer if self.transitions else None

    def wait_for(self, answerer: str | None, timeout: float) -> bool:
        """Wait (bounded) until the probe has seen `answerer` (a node name, or None for no answer)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.current() == answerer and self.transitions:
                return True
            time.sleep(self.interval / 2)
        return self.current() == answerer

    def outages(self) -> list[tuple[float, float | None]]:
        """(start, end) of each span with no answer; end None while it lasts. Ignores a silent start."""
        spans: list[tuple[float, float | None]] = []
        with self._lock:
            seen_answer = False
            start: float | None = None
            for tr in self.transitions:
                if tr.answerer is None and seen_answer and start is None:
                    start = tr.t
                elif tr.answerer is not None:
                    if start is not None:
                        spans.append((start, tr.t))
                        start = None
                    seen_answer = True
            if start is not None:
                spans.append((start, None))
        return spans

    def answerers(self) -> list[str]:
        """Nodes that answered, in order of first answer."""
        with self._lock:
            out: list[str] = []
            for tr in self.transitions:
                if tr.answerer is not None and tr.answerer not in out:
                    out.append(tr.answerer)
            return out


@dataclass(frozen=True)
class ArpEvent:
    t: float
    op: int  # 1 request, 2 reply
    hwsrc: str
    psrc: str
    pdst: str

    @property
    def gratuitous(self) -> bool:
        return self.psrc == self.pdst


class ArpCapture(BackgroundLoop):
    """Every ARP frame reaching the client, decoded with scapy, with monotonic timestamps."""

    thread_name = "arp-capture"

    def __init__(self, lab: "Lab", max_seconds: float = MAX_SECONDS):
        super().__init__()
        self.lab = lab
        self.max_seconds = max_seconds
        self.events: list[ArpEvent] = []
        self._ready = threading.Event()

    def start(self) -> "ArpCapture":
        super().start()
        if not self._ready.wait(10):  # scapy's first import takes a while
            self.stop()
            raise LabError("ARP capture did not start within 10 s")
        return self

    def _run(self) -> None:
        from scapy.layers.l2 import ARP, Ether  # scapy is slow to import: only when capturing

        netns.enter(self.lab.client_netns)
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
        sock.bind(("eth0", ETH_P_ARP))
        sock.settimeout(0.05)
        self._ready.set()
        deadline = time.monotonic() + self.max_seconds
        with sock:
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    frame = sock.recv(2048)
                except (socket.timeout, TimeoutError):
                    continue
                now = time.monotonic()
                pkt = Ether(frame)
                if ARP in pkt:
                    arp = pkt[ARP]
                    with self._lock:
                        self.events.append(ArpEvent(now, int(arp.op), str(arp.hwsrc), str(arp.psrc), str(arp.pdst)))

    def gratuitous(self, ip: str | None = None) -> list[ArpEvent]:
        with self._lock:
            return [e for e in self.events if e.gratuitous and (ip is None or e.psrc == ip)]

    def wait_gratuitous(self, ip: str, count: int = 1, timeout: float = 5.0) -> list[ArpEvent]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.gratuitous(ip)) < count:
            time.sleep(0.02)
        return self.gratuitous(ip)


def client_neighbours(lab: "Lab") -> dict[str, str]:
    """The client's neighbour cache: IPv4 address -> MAC, entries that have a link-layer address."""
    out = lab.client_exec(["ip", "-j", "-4", "neigh", "show"]).stdout
    return {e["dst"]: e["lladdr"] for e in json.loads(out or "[]") if "lladdr" in e}
