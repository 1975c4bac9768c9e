"""The heartbeat layer on a running asyncio loop: transport + codec + membership core + timers + log.

It owns nothing slow: every step is a decode, a pure core call and a few sendto()s, so heartbeats go out
on time whatever else the daemon is doing (agents run in other processes or threads).
"""
from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
from collections import Counter
from typing import Any, Callable

from hbd.config.model import AuthKeys, HaCf
from hbd.core import messages
from hbd.core.membership import Membership, MembershipConfig
from hbd.errors import ProtocolError
from hbd.core.membership_events import Action, Dropped, Event, Log, MembershipView, Received, Send, Tick
from hbd.runtime.admission import FLOOD_HOLD_S, Admission, AdmissionDrop
from hbd.runtime.loopwatch import LoopWatch
from hbd.runtime.process import tune_for_heartbeats
from hbd.runtime.rejects import RejectCounter
from hbd.runtime.state import NodeIdentity
from hbd.runtime.transport import Transport

LOG = logging.getLogger("hbd.membership")
LOAD_REREAD_S = 1.0  # the kernel updates /proc/loadavg every 5 s: reading it per heartbeat costs 60 us
DECODED_KEPT = 64  # datagrams kept decoded: copies come within a loop turn or two, well under 64 datagrams
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "notice": logging.INFO, "WARN": logging.WARNING,
          "ERROR": logging.ERROR, "CRIT": logging.CRITICAL}


def load_average() -> str | None:
    try:
        with open("/proc/loadavg") as f:
            return f.read().strip()
    except OSError:
        return None


class LoadAverage:
    """The `ld` field of status packets: /proc/loadavg read at most once per LOAD_REREAD_S."""

    def __init__(self, read: Callable[[], str | None] = load_average):
        self.read = read
        self.value: str | None = None
        self.at: float | None = None

    def get(self, now: float) -> str | None:
        if self.at is None or now - self.at >= LOAD_REREAD_S or now < self.at:
            self.value, self.at = self.read(), now
        return self.value


class MembershipService:
    def __init__(self, hacf: HaCf, keys: AuthKeys, identity: NodeIdentity, *,
                 transport_factory: Callable[..., Transport] = Transport):
        self.hacf = hacf
        self.keys = keys
        self.identity = identity
        self.config = MembershipConfig.from_hacf(hacf)
        self.sender = messages.Sender(self.config.local, identity.uuid, identity.generation,
                                      hacf.hopfudge + len(hacf.nodes))
        self.transport = transport_factory(hacf.media, self._datagram)
        self.core: Membership | None = None
        self.rejects = RejectCounter()
        self.admission = Admission()
        self.flooded: dict[str, float] = {}  # link -> since when its kernel filter is in flood mode
        self.accepted: Counter[str] = Counter()  # per source node
        self.peer_uuids: dict[str, bytes] = {}
        self.observers: list[Callable[[Action], None]] = []
        # (node, link, seq, loop time) of every accepted heartbeat: hbd/runtime/metrics.py
        self.heartbeat_hooks: list[Callable[[str, str, int | None, float], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.watch = LoopWatch()
        self.load = LoadAverage()
        self._decoded: dict[bytes, tuple[AuthKeys, messages.Message]] = {}  # datagram -> (keys, decoded)

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop, core: Any = None) -> None:
        """`core`: what to drive instead of a plain membership core (the node core: runtime/bridge.py)."""
        self._loop = loop
        for level, text in self.identity.notes:
            LOG.log(LEVELS[level], text, extra={"hb_level": level})
        self.transport.open(loop)
        for level, text in self.transport.notes:
            LOG.log(LEVELS[level], text, extra={"hb_level": level})
        now = loop.time()
        self.core = core or Membership(self.config, now, generation=self.identity.generation, rng=random.Random())
        self._apply(self.core.start(now))
        self._schedule()
        tune_for_heartbeats()
        self.watch.install_gc_timer()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.transport.close()
        self.watch.remove_gc_timer()

    def counters(self) -> dict[str, object]:
        """For `hbd status`: packets accepted per node, dropped per kind, and the heartbeat path's delays."""
        return {"accepted": dict(self.accepted), "rejected": self.rejects.as_dict(),
                "send_errors": getattr(self.transport, "send_errors", 0), **self.watch.as_dict()}

    def broadcast(self, body: tuple[tuple[str, str], ...]) -> None:
        """Send a sequenced message of the layers above (resource, ask_resources, ...) on every medium."""
        assert self.core is not None
        self._apply([self.core.send(body)])
        self._schedule()

    def carry_out(self, actions: list[Action]) -> None:
        """Actions of a step someone else made on the shared node core; the timer follows its deadline."""
        self._apply(actions)
        self._schedule()

    def view(self) -> MembershipView:
        assert self.core is not None and self._loop is not None
        return self.core.view(self._loop.time())

    # --- events ------------------------------------------------------------------------------------

    def _datagram(self, data: bytes, link: str, source: tuple[str, int] | None) -> None:
        # cheapest first (the kernel's filter did length, start and network already): the network again,
        # then whether the source earned an HMAC check, then the HMAC, then the parse and membership
        if not self.transport.on_medium(link, source):
            self._rejected(messages.RejectReason.UNKNOWN_SOURCE, "not on the medium's network", link, source)
            return
        assert self._loop is not None
        if not self.admission.admit(link, source, self._loop.time()):
            self._rejected(AdmissionDrop.UNCHECKED, "", link, source)
            if link not in self.flooded:
                self._flood_mode(link, True)
            return
        # a datagram seen lately: our own back (on every medium, each keepalive; kept decoded at its send)
        # or a peer's copy on the next medium. Decoding is a function of the bytes and the keys: the kept
        # Message is what decode would give (replays included); the core still judges each copy.
        kept = self._decoded.get(data)
        if kept is not None and kept[0] is self.keys:
            decoded = kept[1]
        else:
            result = messages.decode(data, self.keys)
            if isinstance(result, messages.Rejection):
                self._rejected(result.reason, result.detail, link, source)
                return
            decoded = result
            self._keep(data, decoded)
        src = decoded.src or "?"
        self.accepted[src] += 1
        if self.heartbeat_hooks and decoded.type == "status":
            now = self._loop.time()
            for hook in self.heartbeat_hooks:
                hook(src, link, decoded.hex_field("seq"), now)
        uuid = decoded.get_bytes("srcuuid")
        if uuid is not None and src != self.config.local:
            self.peer_uuids[src] = uuid
        actions = self._step(Received(decoded, link))
        if not any(isinstance(a, Dropped) for a in actions):  # new and from a node: its source is known now
            if self.admission.learn(link, source) and link in self.flooded:
                self._flood_mode(link, True)  # the new address passes the filter too

    def _flood_mode(self, link: str, on: bool) -> None:
        """Under a flood, only known nodes' addresses pass `link`'s kernel filter whole (admission.py)."""
        assert self._loop is not None
        known = self.admission.known.get(link)
        if on and not known:
            return  # no node's address learned yet on this medium: nothing to keep
        restrict = getattr(self.transport, "restrict", None)  # a test transport may have no kernel filter
        if restrict is None or not restrict(link, known if on else None):
            return
        if on:
            self.flooded[link] = self._loop.time()
            LOG.warning("flood on %s: more datagrams from unknown sources than can be checked; for %.0f s only "
                        "%s pass whole, 1 in 64 of the others", link, FLOOD_HOLD_S, " ".join(sorted(known or ())),
                        extra={"hb_level": "WARN"})
        else:
            del self.flooded[link]

    def _tick(self) -> None:
        assert self._loop is not None
        if self._timer is not None:
            self.watch.timer_fired(self._timer.when(), self._loop.time())
        self._timer = None
        # what waits in the receive queues came before this moment: read it first, so no node (this one
        # included) is judged on a deadline its packets met while the loop was held up
        self.watch.drained += self.transport.drain()
        for link, since in list(self.flooded.items()):
            if self._loop.time() - since > FLOOD_HOLD_S:
                self._flood_mode(link, False)  # a flood still going turns it on again at once
        sent = any(isinstance(action, Send) for action in self._step(Tick()))
        read_waiting = getattr(self.transport, "read_waiting", None)  # a test transport may have none
        if sent and read_waiting is not None:
            # the kernel loops a broadcast back to our sockets within sendto(): handle our own copies in
            # this loop turn (its code and data are warm) rather than in a turn of their own
            read_waiting()

    def _step(self, event: Event) -> list[Action]:
        assert self.core is not None and self._loop is not None
        try:
            actions = self.core.handle(event, self._loop.time())
        except Exception:  # a bug in the core must not stop the heartbeats: log it and go on
            LOG.exception("membership step failed (bug)", extra={"hb_level": "ERROR"})
            actions = []
        self._apply(actions)
        self._schedule()
        return actions

    def _schedule(self) -> None:
        assert self.core is not None and self._loop is not None
        when = self.core.wakeup_at()
        if self._timer is not None:
            if abs(self._timer.when() - when) < 1e-6:
                return
            self._timer.cancel()
        self._timer = self._loop.call_at(when, self._tick)

    def _apply(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                self._send(action)
            elif isinstance(action, Log):
                LOG.log(LEVELS[action.level], action.text, extra={"hb_level": action.level})
            elif isinstance(action, Dropped):
                dropped_text = action.text
                self._count(action.kind, lambda: dropped_text)
            for observer in self.observers:
                observer(action)

    def _send(self, send: Send) -> None:
        kind = next((value for name, value in send.body if name == "t"), "")
        is_ns = isinstance(kind, str) and kind.startswith("NS_")
        fields = messages.with_control_fields(
            send.body, self.sender, seq=send.seq, ts=int(time.time()),
            load=None if is_ns else self.load.get(self._loop.time() if self._loop is not None else 0.0),
            dest=send.dest, dest_uuid=self.peer_uuids.get(send.dest) if send.dest else None)
        try:
            datagram, message = messages.encode_message(fields, self.keys)
        except ProtocolError as exc:
            LOG.error("cannot send %s: %s", dict(send.body).get("t"), exc, extra={"hb_level": "ERROR"})
            return
        self._keep(datagram, message)
        self.transport.send(datagram)

    def _keep(self, datagram: bytes, message: messages.Message) -> None:
        self._decoded[datagram] = (self.keys, message)
        if len(self._decoded) > DECODED_KEPT:
            del self._decoded[next(iter(self._decoded))]  # the oldest: dicts keep insertion order

    def _rejected(self, reason: enum.Enum, detail: str, link: str, source: tuple[str, int] | None) -> None:
        def text() -> str:
            where = f"{source[0]}:{source[1]}" if source else "loopback"
            if reason is messages.RejectReason.BAD_AUTH:
                return f"authtoken does not match, {detail} (from {where} on {link})"
            return f"dropped packet from {where} on {link}: {reason.value}" + (f": {detail}" if detail else "")
        self._count(reason, text)

    def _count(self, kind: enum.Enum, text: Callable[[], str]) -> None:
        """Count a drop; its line is made and written only within the rate limit (under a flood, making a
        line per datagram would cost more than the drop itself)."""
        assert self._loop is not None
        log_it, summary = self.rejects.count(kind, self._loop.time())
        if summary:
            LOG.error(summary, extra={"hb_level": "ERROR"})
        if log_it:
            LOG.error(text(), extra={"hb_level": "ERROR"})


class HeartbeatFormatter(logging.Formatter):
    """Heartbeat's log line: `Nov 21 21:03:35 alice hbd: [34]: WARN: node bob: is dead` (heartbeat.md §9.1)."""

    def __init__(self, host: str, entity: str = "hbd"):
        super().__init__()
        self.host = host
        self.entity = entity

    def format(self, record: logging.LogRecord) -> str:
        level = getattr(record, "hb_level", None) or {logging.WARNING: "WARN", logging.CRITICAL: "CRIT"}.get(
            record.levelno, record.levelname if record.levelno >= logging.ERROR else record.levelname.lower())
        stamp = time.strftime("%b %d %H:%M:%S", time.localtime(record.created))
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return f"{stamp} {self.host} {self.entity}: [{record.process}]: {level}: {text}"
