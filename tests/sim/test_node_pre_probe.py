"""The pre-probe verdict decides the takeover's start option in the node core (hbd/core/pre_probe.py), over
composed node cores with real wire messages (node_world.py): the world listens for the addresses when the
core asks (`ProbeNow`) and reports what it heard (`PreProbeVerdict`); IPaddr2's probe is skipped only when
the core's StartGroup says `peer_released`."""
from __future__ import annotations

from hbd.core import ownership_types as o
from node_world import Options, run_world

SEEDS = 120


def takeovers(kinds: tuple[str, ...]) -> list[o.StartGroup]:
    found: list[o.StartGroup] = []
    for seed in range(SEEDS):
        world = run_world(seed, Options(kinds=kinds))
        assert not world.violations, (seed, world.violations)
        found += [a for _, _, a in world.trace if isinstance(a, o.StartGroup) and a.cause is o.Cause.PEER_DEAD]
    return found


def test_after_a_power_off_the_silent_addresses_are_taken_over_without_probing_again() -> None:
    starts = takeovers(("power_off",))
    assert len(starts) >= SEEDS // 5  # takeovers happened
    assert all(s.peer_released and s.pre_probe_silent for s in starts), starts


def test_after_a_kill_9_the_addresses_still_answer_and_are_probed_again() -> None:
    starts = takeovers(("kill9",))
    assert len(starts) >= SEEDS // 5
    assert not any(s.peer_released for s in starts), starts
