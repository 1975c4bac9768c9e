"""Generation and sequence tracking per peer (heartbeat.md §8.5) and the sender's retransmission history (§8.6)."""
from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass, field

from hbd.core.messages import Field

LOST_A_LOT = 250  # Heartbeat's FLOWCONTROL_LIMIT: a larger gap is not worth asking for, resync instead
HISTORY = 500  # Heartbeat's MAXMSGHIST: sequenced messages kept for retransmission
REXMIT_BATCH = 50  # at most this many packets resent per request
REXMIT_GUARD_S = 0.24  # do not resend the same packet twice within this time


class Verdict(enum.Enum):
    NEW = "new"  # accept: in order, a gap filler, or the first of a new generation
    DUPLICATE = "duplicate"  # seen already: refreshes the link, otherwise ignored
    REPLAY = "replay"  # lower generation than known: dropped


@dataclass(frozen=True)
class Observation:
    verdict: Verdict
    in_order: bool = False  # newer than anything seen before in this generation
    restart: bool = False  # the generation went up
    previous_generation: int | None = None
    gap: tuple[int, int] | None = None  # (last, new) when packets were skipped
    lost_a_lot: bool = False
    filled: int | None = None  # a missing seq that has now arrived
    all_filled: bool = False


# The verdicts of almost every packet, made once: an Observation is frozen, so one value serves every packet
_IN_ORDER = Observation(Verdict.NEW, in_order=True)
_UNSEQUENCED = Observation(Verdict.NEW)
_DUPLICATE = Observation(Verdict.DUPLICATE)


@dataclass
class PeerSequence:
    generation: int | None = None
    last: int | None = None
    missing: set[int] = field(default_factory=set)

    def observe(self, generation: int, seq: int | None) -> Observation:
        known = self.generation
        if known is not None and generation < known:
            return Observation(Verdict.REPLAY, previous_generation=known)
        if seq is None:  # NS_ messages carry a generation but no seq
            return _UNSEQUENCED
        if known is None or generation > known or self.last is None:
            self.generation, self.last, self.missing = generation, seq, set()
            if known is not None and seq - 1 <= LOST_A_LOT:
                # a new generation counts from 1: anything below the first seq seen is still on its way
                self.missing.update(range(1, seq))
            return Observation(Verdict.NEW, in_order=True, restart=known is not None and generation > known,
                               previous_generation=known)
        if seq > self.last:
            last, self.last = self.last, seq
            skipped = seq - last - 1
            if skipped > LOST_A_LOT:
                self.missing.clear()
                return Observation(Verdict.NEW, in_order=True, gap=(last, seq), lost_a_lot=True)
            if skipped > 0:
                self.missing.update(range(last + 1, seq))
                return Observation(Verdict.NEW, in_order=True, gap=(last, seq))
            return _IN_ORDER
        if seq in self.missing:
            self.missing.discard(seq)
            return Observation(Verdict.NEW, filled=seq, all_filled=not self.missing)
        return _DUPLICATE

    def give_up(self, seq: int) -> None:
        self.missing.discard(seq)


@dataclass
class SentHistory:
    """The last HISTORY sequenced messages this node sent, for NS_rexmit."""

    entries: "OrderedDict[int, tuple[tuple[Field, ...], str | None]]" = field(default_factory=OrderedDict)
    resent_at: dict[int, float] = field(default_factory=dict)

    def add(self, seq: int, body: tuple[Field, ...], dest: str | None) -> None:
        self.entries[seq] = (body, dest)
        while len(self.entries) > HISTORY:
            old, _ = self.entries.popitem(last=False)
            self.resent_at.pop(old, None)

    def lookup(self, seq: int, now: float) -> tuple[tuple[Field, ...], str | None] | str | None:
        """The message to resend, a NAK reason (`seqno too low` / `seqno not found`), or None (resent just now)."""
        entry = self.entries.get(seq)
        if entry is None:
            first = next(iter(self.entries), None)
            return "seqno too low" if first is not None and seq < first else "seqno not found"
        if now - self.resent_at.get(seq, -1e18) < REXMIT_GUARD_S:
            return None
        self.resent_at[seq] = now
        return entry
