"""Membership properties over thousands of seeded network histories (loss, delay, duplication, reordering).

Design limit (stated here and in hbd.core.membership): with deadtime >= 10 x keepalive, packets delayed by up
to 50 ms (hence reordered) and 5 % duplicated, no live peer is ever declared dead while each medium loses at
most 25 % of packets with two media, or 10 % with one. Below that limit these runs must show no false death;
a silent peer must be declared dead its advertised deadtime after its last packet arrived (within one
250 ms check interval, Heartbeat's granularity; hbd's deadlines are exact); and retransmission must deliver
every sequenced message exactly once.
"""
from __future__ import annotations

import random

import pytest

from hbd.config.model import Timing
from hbd.core.membership_events import DropKind, Dropped, LinkChanged, Log, NodeChanged, PeerRestarted, PeerReturned
from hbd.core.messages import Message, Sender, with_control_fields
from membership_scenarios import CHECK_INTERVAL_S, run_one
from simnet import MediumFaults, SimCluster

RUNS = 10_000
BATCHES = 20


@pytest.mark.parametrize("batch", range(BATCHES))
def test_no_false_death_exact_detection_and_complete_delivery(batch: int) -> None:
    per_batch = RUNS // BATCHES
    for seed in range(batch * per_batch, (batch + 1) * per_batch):
        run_one(seed)


@pytest.mark.parametrize("seed", range(50))
def test_partition_both_sides_detect_and_heal(seed: int) -> None:
    rng = random.Random(seed)
    timing = Timing(200, 2000, 1000, 4000)
    sim = SimCluster(["alice", "bob"], timing, [MediumFaults(loss=0.1, delay=(0.0002, 0.03), duplicate=0.05)] * 2,
                     seed)
    sim.boot("alice"), sim.boot("bob")
    cut_at = 5.5 + rng.uniform(0, 1)
    sim.run_until(cut_at)
    sim.partition("bob")  # bob's two interfaces go down: each side loses the other
    sim.run_until(cut_at + 3.0)
    for observer, peer in (("alice", "bob"), ("bob", "alice")):
        dead = [t for t, s in sim.records[observer].status_changes(peer) if s == "dead"]
        last = sim.last_received[(observer, peer)]
        assert len(dead) == 1 and 0 <= dead[0] - (last + 2.0) <= CHECK_INTERVAL_S, (seed, observer, dead, last)
        assert dead[0] <= cut_at + 2.0 + 0.03, (seed, observer, dead)
    heal_at = sim.now
    sim.heal()
    sim.run_until(heal_at + 1.0)
    returned = [a for _, a in sim.records["alice"].actions if isinstance(a, PeerReturned)]
    assert returned == [PeerReturned("bob")], seed
    assert not any(isinstance(a, PeerRestarted) for _, a in sim.records["alice"].actions)
    assert sim.cores["alice"].view(sim.now).nodes[1].status == "active"


@pytest.mark.parametrize("seed", range(50))
def test_replayed_old_generation_never_revives_a_dead_peer(seed: int) -> None:
    sim = SimCluster(["alice", "bob"], Timing(200, 2000, 1000, 4000), [MediumFaults(loss=0.05)], seed)
    sim.boot("alice"), sim.boot("bob")
    sim.run_until(1.0)
    sim.restart("bob")  # generation 2; generation-1 packets are what an attacker captured
    sim.run_until(6.0)
    sim.power_off("bob")
    sim.run_until(11.0)  # bob's last dt may still be its startup one: 4 s
    assert sim.cores["alice"].view(sim.now).nodes[1].status == "dead"
    before = len(sim.records["alice"].actions)
    for seq in range(1, 40):  # old-generation status packets, even with seqs far above the current ones
        fields = with_control_fields((("t", "status"), ("st", "active"), ("dt", "7d0"), ("protocol", "1")),
                                     Sender("bob", b"\0" * 16, 1, 3), seq=1000 + seq, ts=0, load=None)
        sim.inject("alice", Message(tuple(fields)))
        sim.run_until(sim.now + 0.1)
    after = [a for _, a in sim.records["alice"].actions[before:]]
    assert sim.cores["alice"].view(sim.now).nodes[1].status == "dead", seed
    assert not any(isinstance(a, (NodeChanged, LinkChanged)) for a in after), seed
    assert sum(isinstance(a, Dropped) and a.kind is DropKind.OLD_GENERATION and a.node == "bob" for a in after) == 39
