"""What membership keeps about each node, and the retransmission bookkeeping done per peer.

Membership (membership.py) decides who is alive; this module holds the per-node records it decides from
(links, sequence, advertised deadtime, interval histogram) and the gap and retransmission rules of
heartbeat.md §7.5 and §8.4-8.6 that touch one peer at a time: which lost packets to ask for and when, when to
give one up, how to answer a peer's NS_rexmit from the sent history. Pure: no I/O, no clock reads.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from hbd.core.intervals import IntervalHistogram
from hbd.core.membership_events import Action, LinkChanged, Log, NodeStatus, Send
from hbd.core.messages import Message
from hbd.core.sequence import REXMIT_BATCH, Observation, PeerSequence, SentHistory

REXMIT_FIRST_S = (0.05, 0.25)  # first NS_rexmit after a random delay (max_rexmit_delay 250 ms)
REXMIT_REPEAT_S = 0.25
REXMIT_TRIES = 20  # then the packet is given up as irretrievably lost


@dataclass
class LinkState:
    last: float | None = None
    up: bool = False
    top_seq: int = -1  # highest seq seen on this link: a replayed copy must not keep a link alive


@dataclass
class NodeState:
    name: str
    status: NodeStatus = "init"
    heard: bool = False
    last: float | None = None
    last_status_at: float | None = None
    dt_s: float | None = None  # the node's advertised deadtime
    links: dict[str, LinkState] = field(default_factory=dict)
    seq: PeerSequence = field(default_factory=PeerSequence)
    histogram: IntervalHistogram = field(default_factory=IntervalHistogram)
    rexmit_due: dict[int, tuple[float, int]] = field(default_factory=dict)  # seq -> (when, tries)
    ack_slot: int = 0


def refresh_link(node: NodeState, link: str, seq: int, now: float, out: list[Action],
                 new_to_node: bool = False) -> bool:
    """A packet proves its link alive if the node never had it (a retransmitted gap filler included) or
    it is the first copy of that seq on this link; replayed copies prove nothing."""
    state = node.links.setdefault(link, LinkState())
    if seq <= state.top_seq and not new_to_node:
        return False
    state.top_seq, state.last = max(seq, state.top_seq), now
    if not state.up:
        state.up = True
        out += [Log("info", f"Link {node.name}:{link} up."), LinkChanged(node.name, link, True)]
    return True


def rexmit_requests(node: NodeState, now: float, out: list[Action]) -> None:
    """Ask the peer again for each missing packet that is due; give up after REXMIT_TRIES."""
    if not node.rexmit_due:
        return
    due = sorted(seq for seq, (when, _) in node.rexmit_due.items() if when <= now)
    for seq in due:
        _, tries = node.rexmit_due[seq]
        if tries >= REXMIT_TRIES:
            give_up(node, seq, out)
            continue
        node.rexmit_due[seq] = (now + REXMIT_REPEAT_S, tries + 1)
    for first, last in ranges([s for s in due if s in node.rexmit_due]):
        out.append(Send((("t", "NS_rexmit"), ("firstseq", str(first)), ("lastseq", str(last))), None, node.name))


def give_up(node: NodeState, seq: int, out: list[Action]) -> None:
    node.rexmit_due.pop(seq, None)
    node.seq.give_up(seq)
    out.append(Log("ERROR", f"Irretrievably lost packet: node {node.name}: seq {seq}"))


def note_sequence(node: NodeState, obs: Observation, now: float, rng: random.Random, out: list[Action]) -> None:
    """Schedule requests for a gap the packet revealed, or forget the one it filled."""
    if obs.gap is not None:
        last, new = obs.gap
        out.append(Log("WARN", f"{new - last - 1} lost packet(s) for [{node.name}] [{last}:{new}]"))
        if obs.lost_a_lot:
            out.append(Log("ERROR", "lost a lot of packets!"))
            node.rexmit_due.clear()
        else:
            for missing in range(last + 1, new):
                node.rexmit_due[missing] = (now + rng.uniform(*REXMIT_FIRST_S), 0)
    if obs.filled is not None:
        node.rexmit_due.pop(obs.filled, None)
        if obs.all_filled:
            out.append(Log("info", f"No pkts missing from {node.name}!"))


def rexmit_answer(node: NodeState, msg: Message, history: SentHistory, now: float, out: list[Action]) -> None:
    """Resend what the peer asks for from the sent history, or tell it a packet is gone (NS_nak_rexmit)."""
    first, last = msg.dec_field("firstseq"), msg.dec_field("lastseq")
    if first is None or last is None or last < first:
        out.append(Log("ERROR", f"bad NS_rexmit from {node.name}"))
        return
    for seq in range(first, min(last, first + REXMIT_BATCH - 1) + 1):
        entry = history.lookup(seq, now)
        if isinstance(entry, str):
            out.append(Log("ERROR", f"Cannot rexmit pkt {seq} for {node.name}: {entry}"))
            out.append(Send((("t", "NS_nak_rexmit"), ("firstseq", f"{seq:x}"), ("info", entry)), None, node.name))
        elif entry is not None:
            out.append(Send(entry[0], seq, entry[1]))


def ranges(seqs: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for seq in seqs:
        if out and seq == out[-1][1] + 1:
            out[-1] = (out[-1][0], seq)
        else:
            out.append((seq, seq))
    return out


def partition_logs(node: str) -> list[Action]:
    return [Log("CRIT", f"Cluster node {node} returning after partition."),
            Log("info", "For information on cluster partitions, See URL: http://linux-ha.org/wiki/Split_Brain"),
            Log("WARN", "Deadtime value may be too small."),
            Log("info", "See FAQ for information on tuning deadtime."),
            Log("info", "URL: http://linux-ha.org/wiki/FAQ#Heavy_Load")]
