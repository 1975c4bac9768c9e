"""Heartbeat's resource-layer messages, decoded once into typed values, and the fields of the ones hbd sends.

The ownership policy reads only these values, never raw fields. Heartbeat's messages: `starting`,
`resource` (a holdings report: `rsc_hold`, `isstable`, `info`), `ask_resources` (the standby exchange,
phase in `info`), `hb_takeover`, `shutdone`, `ip-request`. hbd's extension fields, ignored by Heartbeat:
`hbdver` (the sender speaks them), `hbd_groups` (the exact group list), `hbd_ask` (report again, please),
`hbd_rsc` (digests of the group definitions, agreement.py), `reason` (why a standby was refused) and
`hbd_ping` (how many ping nodes the sender reaches, on `starting` and `resource`: ipfail.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Mapping

from hbd.core import agreement
from hbd.core.holdings import Topology, decode_groups, encode_groups

HBD_VERSION = "1"
PING_FIELD = "hbd_ping"


class AskPhase(str, Enum):
    """The `info` of an `ask_resources` message: Heartbeat's three phases, and hbd's refusal."""

    ME = "me"  # the giver: I want to go standby
    OTHER = "other"  # the taker: I can take them
    DONE = "done"  # giver: released; taker: acquired
    REFUSED = "refused"  # hbd only: the exchange cannot happen now (`reason`)


@dataclass(frozen=True)
class PeerStarting:
    seq: int
    groups: frozenset[str] | None  # hbd_groups: what it already holds (None: a Heartbeat peer)


@dataclass(frozen=True)
class HoldingsReport:
    seq: int
    word: str  # rsc_hold, relative to the sender (none / local / foreign / all)
    groups: frozenset[str] | None  # hbd_groups, exact (None: a Heartbeat peer)
    stable: bool | None  # isstable (None: absent)
    shutting_down: bool  # info=shutdown: sent before it stops anything
    ask: bool  # hbd_ask=1: it may have missed our report; report again


@dataclass(frozen=True)
class StandbyMessage:
    seq: int
    phase: AskPhase
    word: str
    groups: frozenset[str] | None
    reason: str  # with REFUSED: why (for the log and the admin's reply)


@dataclass(frozen=True)
class TakeoverRequest:
    word: str  # all / local / foreign / failback, relative to the requester


@dataclass(frozen=True)
class ShutdownNotice:
    """`shutdone`: the peer released everything and leaves."""


@dataclass(frozen=True)
class IpRequest:
    """Heartbeat's auto_failback legacy handshake; hbd does not take part."""


@dataclass(frozen=True)
class Unrecognised:
    kind: str  # the message type, or an ask_resources with an unknown phase


Body = PeerStarting | HoldingsReport | StandbyMessage | TakeoverRequest | ShutdownNotice | IpRequest | Unrecognised


@dataclass(frozen=True)
class PeerMessage:
    hbd: bool  # carries hbdver: the peer speaks hbd's extensions
    digests: str | None  # hbd_rsc, compared with ours (agreement.py)
    body: Body


def message_seq(f: Mapping[str, str]) -> int:
    """The message's sequence number (hex, as Heartbeat writes it), or -1 when absent or unreadable."""
    try:
        return int(f.get("seq", ""), 16)
    except ValueError:
        return -1


def ping_count(f: Mapping[str, str]) -> int | None:
    """`hbd_ping` of a `starting` or `resource` message: the ping nodes the sender reaches (None: absent,
    unreadable, or another message type)."""
    value = f.get(PING_FIELD)
    if f.get("t") not in ("starting", "resource") or value is None or not value.isdigit() or len(value) > 6:
        return None
    return int(value)


def decode(f: Mapping[str, str], topology: Topology) -> PeerMessage:
    return PeerMessage("hbdver" in f, f.get(agreement.FIELD), _body(f, topology))


def _body(f: Mapping[str, str], topology: Topology) -> Body:
    t = f.get("t", "")
    seq = message_seq(f)
    groups = decode_groups(f.get("hbd_groups"), topology)
    if t == "starting":
        return PeerStarting(seq, groups)
    if t == "resource":
        stable = f.get("isstable")
        return HoldingsReport(seq, f.get("rsc_hold", "none"), groups, None if stable is None else stable == "1",
                              f.get("info") == "shutdown", f.get("hbd_ask") == "1")
    if t == "ask_resources":
        try:
            phase = AskPhase(f.get("info", ""))
        except ValueError:
            return Unrecognised(f"ask_resources info={f.get('info', '')}")
        return StandbyMessage(seq, phase, f.get("rsc_hold", "all"), groups, f.get("reason", "refused"))
    if t == "hb_takeover":
        return TakeoverRequest(f.get("rsc_hold", "all"))
    if t == "shutdone":
        return ShutdownNotice()
    if t == "ip-request":
        return IpRequest()
    return Unrecognised(t)


# --- what this node sends ---------------------------------------------------------------------------

def report_fields(topology: Topology, held: frozenset[str], me: str, **extra: str) -> dict[str, str]:
    """A `starting` or `resource` message: holdings in Heartbeat's word (resource only) and exactly."""
    fields = dict(extra)
    if fields.get("t") == "resource":
        fields["rsc_hold"] = topology.describe(held, me)
    fields["hbd_groups"] = encode_groups(held, topology)
    fields["hbdver"] = HBD_VERSION
    digests = agreement.encode(topology)
    if digests is not None:
        fields[agreement.FIELD] = digests
    return fields


def ask_fields(word: str, phase: AskPhase, **extra: str) -> dict[str, str]:
    """An `ask_resources` message of the standby exchange."""
    return {"t": "ask_resources", "rsc_hold": word, "info": phase.value, **extra, "hbdver": HBD_VERSION}
