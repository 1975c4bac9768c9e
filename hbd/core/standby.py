"""Heartbeat's three-phase standby exchange (`ask_resources` me / other / done), as giver or taker.

A handover never starts a group before its release is confirmed: the taker starts only after the giver's
`done`, and only the groups the giver no longer holds. hbd adds, for hbd peers only: the exact group list
(`hbd_groups`), an immediate refusal (`info=refused reason=...`) instead of a silent 10 s timeout, and
`hb_takeover failback` meaning "give me my own groups back" (Heartbeat 3.0.6 hands over everything).
The same exchange serves admin requests, auto_failback, and handing a group that failed to start here
to the peer.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from hbd.core.holdings import Topology, encode_groups
from hbd.core.ownership_types import AdminReply, Cause, HandOffFailed, Op, Outbox, Policy
from hbd.core.peer_view import PeerView
from hbd.core.resource_messages import AskPhase, StandbyMessage, ask_fields

TAKEOVER_MAP = {"all": "all", "local": "foreign", "foreign": "local", "failback": "foreign"}
# A takeover word as the requester means it: `failback` asks for the requester's own groups back.
REQUESTER_WORD = {"all": "all", "local": "local", "foreign": "foreign", "failback": "local"}


class Role(str, Enum):
    GIVER = "giver"
    TAKER = "taker"
    REQUESTER = "requester"  # asked the peer (hb_takeover) to go standby for us


class ExchangePhase(str, Enum):
    ASKED = "asked"  # giver: sent `me`, waiting for `other`
    RELEASING = "releasing"  # giver: stopping the groups
    RELEASED = "released"  # giver: sent `done`, waiting for the taker's `done`
    OFFERED = "offered"  # taker: sent `other`, waiting for the giver's `done`
    ACQUIRING = "acquiring"  # taker: starting the groups
    REQUESTED = "requested"  # requester: sent hb_takeover, waiting for the peer's `me`


@dataclass
class Exchange:
    role: Role
    word: str  # all / local / foreign, relative to the giver
    groups: frozenset[str]
    phase: ExchangePhase
    deadline: int
    request_id: int | None = None
    auto_failback: bool = False
    requested: frozenset[str] = frozenset()  # an admin takeover: the groups it asked for (judged at the end)
    handoff: bool = False  # giver: groups monitoring gave up on (a failure ends in HandOffFailed)


@dataclass(frozen=True)
class StandbySnapshot:
    role: Role
    word: str
    phase: ExchangePhase
    groups: tuple[str, ...]


class StandbyHost(Protocol):
    """What the exchange needs of the ownership core (and all it may touch)."""

    @property
    def peer_view(self) -> PeerView: ...
    @property
    def held(self) -> frozenset[str]: ...
    @property
    def stable(self) -> bool: ...
    @property
    def idle(self) -> bool: ...  # running, no group operation running or queued

    def enqueue(self, op: Op, key: str, cause: Cause, reason: str) -> None: ...
    def send_report(self, out: Outbox, stable: bool | None = None, rsc_hold: str | None = None,
                    **extra: str) -> None: ...
    def report_soon(self) -> None: ...  # holdings changed: report them at the end of the step
    def failed_here(self, key: str) -> bool: ...  # a start failed here lately
    def forget_failure(self, key: str) -> None: ...
    def failback_not_done(self, now: int) -> None: ...  # an auto_failback exchange did not happen: later


class StandbyExchange:
    def __init__(self, host: StandbyHost, me: str, peer: str, topology: Topology, policy: Policy):
        self.host = host
        self.me, self.peer, self.topology, self.policy = me, peer, topology, policy
        self.x: Exchange | None = None

    @property
    def active(self) -> bool:
        return self.x is not None

    @property
    def deadline(self) -> int | None:
        return self.x.deadline if self.x else None

    def snapshot(self) -> StandbySnapshot | None:
        if self.x is None:
            return None
        return StandbySnapshot(self.x.role, self.x.word, self.x.phase, tuple(self.topology.ordered(self.x.groups)))

    # --- this node gives ------------------------------------------------------------------------

    def start_giving(self, which: str, groups: frozenset[str] | None, now: int, out: Outbox,
                     request_id: int | None, auto_failback: bool = False, handoff: bool = False) -> None:
        h, pv, topo = self.host, self.host.peer_view, self.topology
        word = "foreign" if which == "failback" else which
        if self.x is not None:
            return self._reply(out, request_id, False, "a standby exchange is already in progress")
        if not pv.active:
            return self._reply(out, request_id, False, f"{self.peer} is not active: nothing can take the resources")
        if not h.stable:
            return self._reply(out, request_id, False, "local resources in flux")
        if not pv.stable:
            return self._reply(out, request_id, False, f"{self.peer} is in flux")
        if groups is None or not pv.hbd:
            # A Heartbeat taker takes the whole word-set, so the giver must release all of it.
            groups = (topo.resolve(word, self.me) & h.held) | (groups or frozenset())
        if not groups:
            return self._reply(out, request_id, True, f"nothing to hand over: no {word} groups held here")
        if groups & pv.disputed:
            return self._reply(out, request_id, False, self._disputed_text(groups))
        out.log("info", f"Going standby [{word}].")
        out.send(**ask_fields(word, AskPhase.ME, hbd_groups=encode_groups(groups, topo)))
        self.x = Exchange(Role.GIVER, word, frozenset(groups), ExchangePhase.ASKED,
                          now + self.policy.standby_reply_ms, request_id, auto_failback, handoff=handoff)

    def takeover_targets(self, which: str) -> frozenset[str]:
        """The groups `hbd-takeover which` asks for, from this node's point of view."""
        return self.topology.resolve(REQUESTER_WORD.get(which, which), self.me)

    def request_takeover(self, which: str, now: int, out: Outbox, request_id: int) -> None:
        h, pv, topo = self.host, self.host.peer_view, self.topology
        if self.x is not None:
            return self._reply(out, request_id, False, "a standby exchange is already in progress")
        targets = self.takeover_targets(which)
        if not targets:
            return self._reply(out, request_id, False, f"no {which} groups are configured for {self.me}: "
                                                       "nothing to take over")
        missing = targets - h.held
        if not missing:
            return self._reply(out, request_id, True, f"the {which} groups are already held here: "
                                                      f"{' '.join(topo.ordered(targets))}")
        if not pv.active:
            return self._reply(out, request_id, False, f"{self.peer} is not active")
        if missing & pv.disputed:
            return self._reply(out, request_id, False, self._disputed_text(missing))
        for key in missing:
            h.forget_failure(key)  # asked for explicitly: try it even though it failed here before
        if pv.hold is not None and not missing & pv.hold:
            return self._reply(out, request_id, False, f"{self.peer} holds none of the {which} groups: "
                                                       f"{' '.join(topo.ordered(missing))} run nowhere "
                                                       "(see why in the logs); nothing to take over")
        out.send(t="hb_takeover", rsc_hold=which, hbdver="1")
        self.x = Exchange(Role.REQUESTER, which, frozenset(), ExchangePhase.REQUESTED,
                          now + self.policy.standby_reply_ms, request_id, requested=missing)

    def takeover_requested(self, word: str, now: int, out: Outbox) -> None:
        mine = TAKEOVER_MAP.get(word)
        if mine is None:
            out.log("ERROR", f"hb_takeover from {self.peer} with unknown rsc_hold [{word}] ignored")
            return
        out.log("info", f"{self.peer} requests takeover [{word}]: going standby [{mine}]")
        before = self.x
        self.start_giving(mine, None, now, out, request_id=None)
        if self.x is None or self.x is before:
            self._refuse(out, mine, "nothing to hand over, or busy")

    # --- messages from the peer -----------------------------------------------------------------

    def received(self, m: StandbyMessage, now: int, out: Outbox) -> None:
        h, topo, x, word = self.host, self.topology, self.x, m.word
        match m.phase:
            case AskPhase.ME:
                self._peer_offers(m, now, out)
            case AskPhase.OTHER if x and x.role is Role.GIVER and x.phase is ExchangePhase.ASKED:
                out.log("info", f"standby: {self.peer} can take our {word} resources")
                # Heartbeat's giver announces what it will keep; hbd_groups still lists what it holds now.
                h.send_report(out, stable=False, rsc_hold=topo.describe(h.held - x.groups, self.me), info="standby")
                out.log("info", f"give up {word} HA resources (standby).")
                for key in reversed(topo.ordered(x.groups & h.held)):
                    h.enqueue(Op.STOP, key, Cause.HANDOVER, "standby")
                x.phase, x.deadline = ExchangePhase.RELEASING, now + self.policy.standby_limit_ms
            case AskPhase.DONE if x and x.role is Role.TAKER and x.phase is ExchangePhase.OFFERED:
                # `done` confirms the release: it may overtake the giver's earlier report (retransmission, two
                # media).
                h.peer_view.handed_over(m, x.groups, to_peer=False)
                still = h.peer_view.hold or frozenset()
                out.log("info", f"standby: acquire [{word}] resources from {self.peer}")
                for key in topo.ordered(x.groups - still):
                    if h.failed_here(key):
                        out.log("CRIT", f"Resource group {key} failed to start on both nodes: not taking it")
                        continue
                    h.enqueue(Op.START, key, Cause.HANDOVER, "standby")
                x.phase = ExchangePhase.ACQUIRING
            case AskPhase.DONE if x and x.role is Role.GIVER and x.phase is ExchangePhase.RELEASED:
                h.peer_view.handed_over(m, x.groups, to_peer=True)
                out.log("info", f"Other node completed standby takeover of {x.word} resources.")
                self._given(m, x, out)
            case AskPhase.REFUSED if x and x.role in (Role.GIVER, Role.REQUESTER):
                out.log("WARN", f"Standby request refused by {self.peer}: {m.reason}")
                if x.auto_failback:
                    h.failback_not_done(now)
                self._finish(out, False, f"{self.peer} refused: {m.reason}")
            case _:
                pass  # not for the exchange in progress (a late or repeated message)

    def _given(self, done: StandbyMessage, x: Exchange, out: Outbox) -> None:
        """The taker's `done`: report what really moved; take back what it did not start."""
        h, topo = self.host, self.topology
        kept = x.groups & h.held
        # None: a Heartbeat taker, whose `done` says nothing of what it started (its report before it does,
        # in words): it is trusted to have taken the set, as Heartbeat's own giver does.
        taken = done.groups
        refused = frozenset() if taken is None else x.groups - kept - taken
        problems = []
        if kept:
            problems.append(f"could not release: {' '.join(topo.ordered(kept))}")
        if refused:
            # Only this node's own groups come back by themselves (`_wanted`): the peer may start a group it
            # prefers whenever it last heard that nobody holds it, so a peer-preferred group stays down.
            back = frozenset(k for k in refused if topo.preferred(k) == self.me and not h.failed_here(k))
            names = " ".join(topo.ordered(refused))
            text = f"{self.peer} did not start {names} (see its log)" + (
                f"; {' '.join(topo.ordered(back))} started here again" if back else "")
            out.log("ERROR", f"Standby [{x.word}]: {text}")
            problems.append(text)
        self._finish(out, not problems, "; ".join(problems) or "handover complete")

    def _peer_offers(self, m: StandbyMessage, now: int, out: Outbox) -> None:
        h, word = self.host, m.word
        out.log("info", f"{self.peer} wants to go standby [{word}]")
        if self.x is not None and self.x.role is not Role.REQUESTER:
            out.log("info", f"Standby in progress- new request from {self.peer} ignored")
            return self._refuse(out, word, "a standby exchange is in progress here")
        if not h.idle:
            out.log("WARN", f"standby message [me] from {self.peer} ignored.  local resources in flux.")
            return self._refuse(out, word, "resources in flux")
        groups = m.groups if m.groups is not None else self.topology.resolve(word, self.peer)
        if groups & h.peer_view.disputed:
            out.log("ERROR", f"standby message [me] from {self.peer} refused: {self._disputed_text(groups)}")
            return self._refuse(out, word, self._disputed_text(groups))
        request_id, requested = (self.x.request_id, self.x.requested) if self.x is not None else (None, frozenset())
        out.send(**ask_fields(word, AskPhase.OTHER))
        self.x = Exchange(Role.TAKER, word, groups, ExchangePhase.OFFERED, now + self.policy.standby_limit_ms,
                          request_id, requested=requested)

    # --- progress when the group queue drains, timers, cancellation ----------------------------

    def after_settled(self, now: int, out: Outbox) -> None:
        h, x, topo = self.host, self.x, self.topology
        if x and x.role is Role.GIVER and x.phase is ExchangePhase.RELEASING:
            kept = x.groups & h.held
            if kept and not h.peer_view.hbd:
                # Heartbeat's taker reads `done` as "the whole set is released" and starts all of it.
                failed = " ".join(topo.ordered(kept))
                out.log("CRIT", f"Standby [{x.word}] not completed: {failed} could not be released; "
                                f"not telling {self.peer} to take over")
                self._finish(out, False, f"could not release: {failed}")
            else:
                out.send(**ask_fields(x.word, AskPhase.DONE, hbd_groups=encode_groups(h.held, topo)))
                out.log("info", f"Local standby process completed [{x.word}].")
                x.phase = ExchangePhase.RELEASED
        elif x and x.role is Role.TAKER and x.phase is ExchangePhase.ACQUIRING:
            out.send(**ask_fields(x.word, AskPhase.DONE, hbd_groups=encode_groups(h.held, topo)))
            out.log("info", f"Standby resource acquisition done [{x.word}].")
            kept = x.groups & (h.peer_view.hold or frozenset())
            missing = (x.groups | x.requested) - h.held - kept
            problems = ([f"{self.peer} kept: {' '.join(topo.ordered(kept))}"] if kept else []) + (
                [f"not started here: {' '.join(topo.ordered(missing))}"] if missing else [])
            self._finish(out, not problems, "; ".join(problems) or "handover complete")
            h.report_soon()

    def tick(self, now: int, out: Outbox) -> None:
        x = self.x
        if x is None or now < x.deadline:
            return
        if x.role is Role.GIVER and x.phase is ExchangePhase.ASKED:
            out.log("WARN", "No reply to standby request.  Standby request cancelled.")
            if x.auto_failback:
                self.host.failback_not_done(now)
            self._finish(out, False, f"no reply from {self.peer}")
        elif x.role is Role.REQUESTER:
            self._finish(out, False, f"no reply from {self.peer}")
        else:
            out.log("ERROR", f"Standby exchange [{x.word}] timed out in phase {x.phase.value}")
            self._finish(out, False, "timed out")

    def cancel(self, now: int, out: Outbox, why: str) -> None:
        if self.x is not None:
            out.log("info", "Cancelling pending standby operation")
            self._finish(out, False, f"cancelled: {why}")

    # --- helpers --------------------------------------------------------------------------------

    def _finish(self, out: Outbox, ok: bool, text: str) -> None:
        x, self.x = self.x, None
        if x is not None:
            self._reply(out, x.request_id, ok, text)
            if not ok and x.handoff and x.groups & self.host.held:
                out.add(HandOffFailed(x.groups & self.host.held, text))

    def _reply(self, out: Outbox, request_id: int | None, ok: bool, text: str) -> None:
        if request_id is not None:
            out.add(AdminReply(request_id, ok, text))
        elif not ok:
            out.log("info", f"Standby not done: {text}")

    def _disputed_text(self, groups: frozenset[str]) -> str:
        names = " ".join(self.topology.ordered(groups & self.host.peer_view.disputed))
        return f"the resource configuration of {names} differs between {self.me} and {self.peer} (see the log)"

    def _refuse(self, out: Outbox, word: str, reason: str) -> None:
        if self.host.peer_view.hbd:
            out.send(**ask_fields(word, AskPhase.REFUSED, reason=reason))


__all__ = ["StandbyExchange", "StandbyHost", "StandbySnapshot", "Role", "ExchangePhase"]
