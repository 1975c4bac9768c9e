"""Which received datagrams are worth an HMAC: a flood from a host that is no node must not cost one each.

Per medium, the source addresses that have sent a packet membership accepted (authentic, new, from a
configured node) are known and always checked. Datagrams from any other source are checked within a budget
(a token bucket, UNKNOWN_RATE per second per medium); past it they are dropped uncounted by the HMAC, at
the cost of a dictionary lookup. A node that starts or changes address during a flood is learned as soon
as one of its packets falls within the budget: with 70 000 flood datagrams/s and a keepalive of 100 ms,
in a few seconds. A flooder who forges a node's source address gets no budget cut: each of its datagrams
costs one HMAC (doc/threat-model.md, "floods").

When the budget runs out on a medium, the service turns that medium's kernel filter to flood mode
(socket_filter.py: known sources only, one datagram in 64 of the others) for FLOOD_HOLD_S, then back.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

UNKNOWN_RATE = 2000.0  # HMAC checks per second per medium for datagrams from unknown sources
# The burst is a flood's head start: until it is spent, every datagram of the flood costs an HMAC and the
# kernel filter stays open, while the receive queue fills and begins to drop the nodes' own packets too (on
# the only medium, a whole deadtime of them when the daemons share a CPU). A node that starts or changes
# address sends one packet per keepalive: a burst of 200 is far more than it needs.
UNKNOWN_BURST = 200.0
FLOOD_HOLD_S = 30.0  # flood mode lasts this long; a flood still going puts it back within milliseconds
MAX_KNOWN = 64  # source addresses remembered per medium: nodes (and their ucast aliases), never a flood's


class AdmissionDrop(enum.Enum):
    UNCHECKED = "from an unknown source, over the checking budget"


@dataclass
class _Bucket:
    tokens: float = UNKNOWN_BURST
    stamp: float | None = None


@dataclass
class Admission:
    known: dict[str, set[str]] = field(default_factory=dict)  # link -> source addresses
    buckets: dict[str, _Bucket] = field(default_factory=dict)

    def admit(self, link: str, source: tuple[str, int] | None, now: float) -> bool:
        if source is None:
            return True  # our own copy, handed up by the transport
        known = self.known.get(link)
        if known is not None and source[0] in known:
            return True
        bucket = self.buckets.get(link)
        if bucket is None:
            bucket = self.buckets[link] = _Bucket()
        if bucket.stamp is not None:
            bucket.tokens = min(UNKNOWN_BURST, bucket.tokens + (now - bucket.stamp) * UNKNOWN_RATE)
        bucket.stamp = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def learn(self, link: str, source: tuple[str, int] | None) -> bool:
        """`source` sent a packet membership accepted on `link`. True if it was not known yet."""
        if source is None:
            return False
        known = self.known.setdefault(link, set())
        if source[0] in known or len(known) >= MAX_KNOWN:
            return False
        known.add(source[0])
        return True
