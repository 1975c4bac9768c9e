"""The seeded two-node scenario behind the membership properties (kept out of the test module so that
pytest's assertion rewriting does not slow the 10 000 runs down; the asserts carry the seed themselves).

Design limit: see tests/sim/test_membership_properties.py and hbd.core.membership.
"""
from __future__ import annotations

import random

from hbd.config.model import Timing
from hbd.core.membership_events import NodeChanged
from simnet import MediumFaults, SimCluster

CHECK_INTERVAL_S = 0.25
MAX_DELAY_S = 0.05
DESIGN_LOSS = {1: 0.10, 2: 0.25}  # media count -> highest per-medium loss rate within the design limit


def scenario(seed: int) -> tuple[SimCluster, float, float, float, float]:
    """Two nodes under random faults within the design limit: (sim, keepalive, deadtime, app_end, off)."""
    rng = random.Random(seed)
    keepalive_ms = rng.choice([200, 500, 1000])
    deadtime_ms = keepalive_ms * rng.choice([10, 12])
    keepalive, deadtime = keepalive_ms / 1000, deadtime_ms / 1000
    media = rng.choice([1, 2])
    faults = [MediumFaults(loss=rng.uniform(0, DESIGN_LOSS[media]), delay=(0.0002, rng.uniform(0.001, MAX_DELAY_S)),
                           duplicate=0.05) for _ in range(media)]
    timing = Timing(keepalive_ms, deadtime_ms, deadtime_ms // 2, deadtime_ms * 2)
    sim = SimCluster(["alice", "bob"], timing, faults, seed)
    # bob sends application messages until app_end; a lost one is noticed at the next packet that gets
    # through, so it is given six keepalives to be asked for and resent before bob is powered off
    app_end = rng.uniform(0.5, 2.5)
    off = app_end + 6 * keepalive + 0.3
    return sim, keepalive, deadtime, app_end, off


def run_one(seed: int) -> None:
    sim, keepalive, deadtime, app_end, off = scenario(seed)
    sim.boot("alice"), sim.boot("bob")
    sent: list[int] = []
    t = 0.2
    rng = random.Random(seed ^ 0x5EED)
    while t < app_end:
        sim.run_until(t)
        sent.append(sim.send_app("bob", (("t", "app"), ("n", str(len(sent))))))
        t += rng.uniform(0.05, 0.6)
    sim.run_until(off)
    alice = sim.records["alice"]
    deaths = [(t, a) for t, a in alice.actions if isinstance(a, NodeChanged) and a.status == "dead"]
    assert deaths == [], f"seed {seed}: false death below the design loss limit: {deaths}"
    assert sim.cores["alice"].view(off).nodes[1].status == "active", f"seed {seed}"
    got = [int(m.get("seq") or "0", 16) for m in alice.delivered() if m.get("t") == "app"]
    assert sorted(got) == sent, f"seed {seed}: delivered {sorted(got)} != sent {sent}"
    sim.power_off("bob")
    # bob's advertised dt: deadtime, or deadtime + 2 s if its last status to get through left in its first 5 s
    sim.run_until(off + deadtime + 2.0 + MAX_DELAY_S + 0.01)
    advertised = sim.cores["alice"].view(sim.now).nodes[1].deadtime_ms / 1000
    assert advertised in (deadtime, (sim.timing.deadtime_ms + 2000) / 1000), f"seed {seed}: {advertised}"
    last = sim.last_received[("alice", "bob")]  # packets still in flight at power-off count
    deaths = [t for t, a in alice.actions if isinstance(a, NodeChanged) and a.node == "bob" and a.status == "dead"]
    assert len(deaths) == 1, f"seed {seed}: {deaths}"
    late = deaths[0] - (last + advertised)
    assert 0 <= late <= CHECK_INTERVAL_S, f"seed {seed}: declared dead {late:+.3f} s from dt after last packet"
    assert deaths[0] - off <= advertised + MAX_DELAY_S, f"seed {seed}: detected later than dt after power-off"
