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
from typing import TYPE_CHECKING, Literal, Mapping

from hbd.core.holdings import decode_groups, encode_groups
from hbd.core.ownership_types import AdminReply, Cause, GroupState, Op, Outbox

if TYPE_CHECKING:
    from hbd.core.ownership import Ownership

Role = Literal["giver", "taker", "requester"]
TAKEOVER_MAP = {"all": "all", "local": "foreign", "foreign": "local", "failback": "foreign"}
# A takeover word as the requester means it: `failback` asks for the requester's own groups back.
REQUESTER_WORD = {"all": "all", "local": "local", "foreign": "foreign", "failback": "local"}


@dataclass
class Exchange:
    role: Role
    word: str  # all / local / foreign, relative to the giver
    groups: frozenset[str]
    phase: str
    deadline: int
    request_id: int | None = None
    auto_failback: bool = False
    requested: frozenset[str] = frozenset()  # an admin takeover: the groups it asked for (judged at the end)


class StandbyExchange:
    def __init__(self, owner: "Ownership"):
        self.o = owner
        self.x: Exchange | None = None

    @property
    def active(self) -> bool:
        return self.x is not None

    @property
    def deadline(self) -> int | None:
        return self.x.deadline if self.x else None

    def describe(self) -> dict[str, object] | None:
        if self.x is None:
            return None
        return {"role": self.x.role, "which": self.x.word, "phase": self.x.phase,
                "groups": self.o.topology.ordered(self.x.groups)}

    # --- this node gives ------------------------------------------------------------------------

    def start_giving(self, which: str, groups: frozenset[str] | None, now: int, out: Outbox,
                     request_id: int | None, auto_failback: bool = False) -> None:
        o, pv = self.o, self.o.peer_view
        word = "foreign" if which == "failback" else which
        if self.x is not None:
            return self._reply(out, request_id, False, "a standby exchange is already in progress")
        if not pv.alive or pv.gave_up:
            return self._reply(out, request_id, False, f"{o.peer} is not active: nothing can take the resources")
        if not o.stable:
            return self._reply(out, request_id, False, "local resources in flux")
        if not pv.stable:
            return self._reply(out, request_id, False, f"{o.peer} is in flux")
        if groups is None or not pv.hbd:
            # A Heartbeat taker takes the whole word-set, so the giver must release all of it.
            groups = (o.topology.resolve(word, o.me) & o.held) | (groups or frozenset())
        if not groups:
            return self._reply(out, request_id, True, f"nothing to hand over: no {word} groups held here")
        if groups & pv.disputed:
            return self._reply(out, request_id, False, self._disputed_text(groups))
        out.log("info", f"Going standby [{word}].")
        out.send(t="ask_resources", rsc_hold=word, info="me", hbd_groups=encode_groups(groups, o.topology),
                 hbdver="1")
        self.x = Exchange("giver", word, frozenset(groups), "asked", now + o.policy.standby_reply_ms,
                          request_id, auto_failback)

    def takeover_targets(self, which: str) -> frozenset[str]:
        """The groups `hbd-takeover which` asks for, from this node's point of view."""
        return self.o.topology.resolve(REQUESTER_WORD.get(which, which), self.o.me)

    def request_takeover(self, which: str, now: int, out: Outbox, request_id: int) -> None:
        o, pv = self.o, self.o.peer_view
        if self.x is not None:
            return self._reply(out, request_id, False, "a standby exchange is already in progress")
        targets = self.takeover_targets(which)
        if not targets:
            return self._reply(out, request_id, False, f"no {which} groups are configured for {o.me}: "
                                                       "nothing to take over")
        missing = targets - o.held
        if not missing:
            return self._reply(out, request_id, True, f"the {which} groups are already held here: "
                                                      f"{' '.join(o.topology.ordered(targets))}")
        if not pv.alive or pv.gave_up:
            return self._reply(out, request_id, False, f"{o.peer} is not active")
        if missing & pv.disputed:
            return self._reply(out, request_id, False, self._disputed_text(missing))
        for key in missing:
            o.start_failed.pop(key, None)  # asked for explicitly: try it even though it failed here before
        if pv.hold is not None and not missing & pv.hold:
            return self._reply(out, request_id, False, f"{o.peer} holds none of the {which} groups: "
                                                       f"{' '.join(o.topology.ordered(missing))} run nowhere "
                                                       "(see why in the logs); nothing to take over")
        out.send(t="hb_takeover", rsc_hold=which, hbdver="1")
        self.x = Exchange("requester", which, frozenset(), "requested", now + o.policy.standby_reply_ms, request_id,
                          requested=missing)

    def takeover_requested(self, word: str, now: int, out: Outbox) -> None:
        mine = TAKEOVER_MAP.get(word)
        if mine is None:
            out.log("ERROR", f"hb_takeover from {self.o.peer} with unknown rsc_hold [{word}] ignored")
            return
        out.log("info", f"{self.o.peer} requests takeover [{word}]: going standby [{mine}]")
        before = self.x
        self.start_giving(mine, None, now, out, request_id=None)
        if self.x is None or self.x is before:
            self._refuse(out, mine, "nothing to hand over, or busy")

    # --- messages from the peer -----------------------------------------------------------------

    def received(self, f: Mapping[str, str], now: int, out: Outbox) -> None:
        o, info, word = self.o, f.get("info"), f.get("rsc_hold", "all")
        x = self.x
        if info == "me":
            self._peer_offers(f, word, now, out)
        elif info == "other" and x and x.role == "giver" and x.phase == "asked":
            out.log("info", f"standby: {o.peer} can take our {word} resources")
            # Heartbeat's giver announces what it will keep; hbd_groups still lists what it holds now.
            o.send_report(out, stable=False, rsc_hold=o.topology.describe(o.held - x.groups, o.me), info="standby")
            out.log("info", f"give up {word} HA resources (standby).")
            for key in reversed(o.topology.ordered(x.groups & o.held)):
                o._enqueue(Op.STOP, key, Cause.HANDOVER, "standby")
            x.phase, x.deadline = "releasing", now + o.policy.standby_limit_ms
        elif info == "done" and x and x.role == "taker" and x.phase == "offered":
            # `done` confirms the release: it may overtake the giver's earlier report (retransmission, two media).
            o.peer_view.handed_over(f, o.topology, x.groups, to_peer=False)
            still = o.peer_view.hold or frozenset()
            out.log("info", f"standby: acquire [{word}] resources from {o.peer}")
            for key in o.topology.ordered(x.groups - still):
                if key in o.start_failed:
                    out.log("CRIT", f"Resource group {key} failed to start on both nodes: not taking it")
                    continue
                o._enqueue(Op.START, key, Cause.HANDOVER, "standby")
            x.phase = "acquiring"
        elif info == "done" and x and x.role == "giver" and x.phase == "released":
            o.peer_view.handed_over(f, o.topology, x.groups, to_peer=True)
            out.log("info", f"Other node completed standby takeover of {x.word} resources.")
            self._given(f, x, out)
        elif info == "refused" and x and x.role in ("giver", "requester"):
            reason = f.get("reason", "refused")
            out.log("WARN", f"Standby request refused by {o.peer}: {reason}")
            if x.auto_failback:
                o.needs_failback, o.failback_not_before = True, now + o.policy.standby_reply_ms
            self._finish(out, False, f"{o.peer} refused: {reason}")

    def _given(self, f: Mapping[str, str], x: Exchange, out: Outbox) -> None:
        """The taker's `done`: report what really moved; take back what it did not start."""
        o = self.o
        kept = x.groups & o.held
        # None: a Heartbeat taker, whose `done` says nothing of what it started (its report before it does,
        # in words): it is trusted to have taken the set, as Heartbeat's own giver does.
        taken = decode_groups(f.get("hbd_groups"), o.topology)
        refused = frozenset() if taken is None else x.groups - kept - taken
        problems = []
        if kept:
            problems.append(f"could not release: {' '.join(o.topology.ordered(kept))}")
        if refused:
            # Only this node's own groups come back by themselves (`_wanted`): the peer may start a group it
            # prefers whenever it last heard that nobody holds it, so a peer-preferred group stays down.
            back = frozenset(k for k in refused if o.topology.preferred(k) == o.me and k not in o.start_failed)
            names = " ".join(o.topology.ordered(refused))
            text = f"{o.peer} did not start {names} (see its log)" + (
                f"; {' '.join(o.topology.ordered(back))} started here again" if back else "")
            out.log("ERROR", f"Standby [{x.word}]: {text}")
            problems.append(text)
        self._finish(out, not problems, "; ".join(problems) or "handover complete")

    def _peer_offers(self, f: Mapping[str, str], word: str, now: int, out: Outbox) -> None:
        o = self.o
        out.log("info", f"{o.peer} wants to go standby [{word}]")
        if self.x is not None and self.x.role != "requester":
            out.log("info", f"Standby in progress- new request from {o.peer} ignored")
            return self._refuse(out, word, "a standby exchange is in progress here")
        if o.phase != "running" or o.busy is not None or o.queue:
            out.log("WARN", f"standby message [me] from {o.peer} ignored.  local resources in flux.")
            return self._refuse(out, word, "resources in flux")
        groups = decode_groups(f.get("hbd_groups"), o.topology)
        if groups is None:
            groups = o.topology.resolve(word, o.peer)
        if groups & o.peer_view.disputed:
            out.log("ERROR", f"standby message [me] from {o.peer} refused: {self._disputed_text(groups)}")
            return self._refuse(out, word, self._disputed_text(groups))
        asked = self.x if self.x is not None else Exchange("taker", word, groups, "", 0)
        out.send(t="ask_resources", rsc_hold=word, info="other", hbdver="1")
        self.x = Exchange("taker", word, groups, "offered", now + o.policy.standby_limit_ms, asked.request_id,
                          requested=asked.requested)

    # --- progress when the group queue drains, timers, cancellation ----------------------------

    def after_settled(self, now: int, out: Outbox) -> None:
        o, x = self.o, self.x
        if x and x.role == "giver" and x.phase == "releasing":
            kept = x.groups & o.held
            if kept and not o.peer_view.hbd:
                # Heartbeat's taker reads `done` as "the whole set is released" and starts all of it.
                failed = " ".join(o.topology.ordered(kept))
                out.log("CRIT", f"Standby [{x.word}] not completed: {failed} could not be released; "
                                f"not telling {o.peer} to take over")
                self._finish(out, False, f"could not release: {failed}")
            else:
                out.send(t="ask_resources", rsc_hold=x.word, info="done",
                         hbd_groups=encode_groups(o.held, o.topology), hbdver="1")
                out.log("info", f"Local standby process completed [{x.word}].")
                x.phase = "released"
        elif x and x.role == "taker" and x.phase == "acquiring":
            out.send(t="ask_resources", rsc_hold=x.word, info="done",
                     hbd_groups=encode_groups(o.held, o.topology), hbdver="1")
            out.log("info", f"Standby resource acquisition done [{x.word}].")
            kept = x.groups & (o.peer_view.hold or frozenset())
            missing = (x.groups | x.requested) - o.held - kept
            problems = ([f"{o.peer} kept: {' '.join(o.topology.ordered(kept))}"] if kept else []) + (
                [f"not started here: {' '.join(o.topology.ordered(missing))}"] if missing else [])
            self._finish(out, not problems, "; ".join(problems) or "handover complete")
            o.last_report = None  # report the new holdings at once
        if self.x is None:
            self._maybe_start_own_exchange(now, out)

    def _maybe_start_own_exchange(self, now: int, out: Outbox) -> None:
        o, pv = self.o, self.o.peer_view
        if not (o.stable and pv.alive and not pv.gave_up and pv.stable and pv.hold is not None):
            return
        if o.handoff:
            keys = frozenset(o.handoff)
            o.handoff.clear()
            word = o.topology.describe(keys, o.me)
            self.start_giving(word, keys, now, out, request_id=None)
            return
        foreign = frozenset(k for k in o.held if o.topology.preferred(k) != o.me)
        if o.needs_failback and now >= o.failback_not_before and foreign:
            o.needs_failback = False
            self.start_giving("foreign", None, now, out, request_id=None, auto_failback=True)
        elif o.needs_failback and not foreign:
            o.needs_failback = False

    def tick(self, now: int, out: Outbox) -> None:
        x = self.x
        if x is None or now < x.deadline:
            return
        if x.role == "giver" and x.phase == "asked":
            out.log("WARN", "No reply to standby request.  Standby request cancelled.")
            if x.auto_failback:
                self.o.needs_failback, self.o.failback_not_before = True, now + self.o.policy.standby_reply_ms
            self._finish(out, False, f"no reply from {self.o.peer}")
        elif x.role == "requester":
            self._finish(out, False, f"no reply from {self.o.peer}")
        else:
            out.log("ERROR", f"Standby exchange [{x.word}] timed out in phase {x.phase}")
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

    def _reply(self, out: Outbox, request_id: int | None, ok: bool, text: str) -> None:
        if request_id is not None:
            out.add(AdminReply(request_id, ok, text))
        elif not ok:
            out.log("info", f"Standby not done: {text}")

    def _disputed_text(self, groups: frozenset[str]) -> str:
        o = self.o
        names = " ".join(o.topology.ordered(groups & o.peer_view.disputed))
        return f"the resource configuration of {names} differs between {o.me} and {o.peer} (see the log)"

    def _refuse(self, out: Outbox, word: str, reason: str) -> None:
        if self.o.peer_view.hbd:
            out.send(t="ask_resources", rsc_hold=word, info="refused", reason=reason, hbdver="1")


__all__ = ["StandbyExchange", "GroupState"]
