"""The ownership core against thousands of seeded histories of crashes, daemon kills, restarts, partitions,
delayed, retransmitted and reordered messages, failing agents, fencing, shutdowns and admin requests at random times.

Invariants (DESIGN.md), checked on every step by tests/sim/ownership_world.py:
- no group is started on a node while a live, connected peer holds it;
- with fencing, nothing is taken over from a peer that is dead to us but unfenced, and no group ever runs
  on both nodes; without partitions (so without split brain) no group ever runs on both nodes either;
- after the last disruption and a quiet period, each group is held by exactly one node (runs without
  agent failures);
- no livelock: every run reaches its end within its event budget.
"""
from __future__ import annotations

import dataclasses
import itertools

import pytest

from hbd.core.ownership import Ownership
from ownership_world import Options, World, run_world

SEEDS_PER_CASE = 210
CASES = [
    Options(groups=g, fencing=f, partitions=p, start_fail=sf, stop_fail=st, auto_failback=af)
    for g, f, p, sf, st, af in itertools.product((1, 2, 3), (False, True), (False, True), (0.0, 0.2), (0.0, 0.3),
                                                 ("on", "off"))
    if not (g == 3 and sf and st)  # keeps the total near 10 000 runs
]


def _name(o: Options) -> str:
    return (f"g{o.groups}-{'fence' if o.fencing else 'nofence'}-{'part' if o.partitions else 'nopart'}"
            f"-sf{o.start_fail}-st{o.stop_fail}-af{o.auto_failback}")


def _explain(seed: int, world: World) -> str:
    """The first violations and each node's last log lines, to replay the seed by hand."""
    return f"seed {seed}: {world.violations[:3]}\n" + "\n".join(
        f"{n}: " + " | ".join(world.nodes[n].log[-12:]) for n in world.nodes)


def test_enough_seeded_runs() -> None:
    assert len(CASES) * SEEDS_PER_CASE >= 10_000


@pytest.mark.parametrize("opts", CASES, ids=[_name(c) for c in CASES])
def test_invariants_hold(opts: Options) -> None:
    for seed in range(SEEDS_PER_CASE):
        # Odd seeds let messages overtake each other, as two media and retransmissions can.
        world = run_world(seed, dataclasses.replace(opts, reorder=seed % 2 == 1))
        assert not world.violations, _explain(seed, world)


HEARTBEAT_SEEDS = 25


@pytest.mark.parametrize("opts", CASES, ids=[_name(c) for c in CASES])
def test_invariants_hold_when_each_node_reads_the_other_as_heartbeat(opts: Options) -> None:
    """Without hbd's exact group lists: holdings as words, reports that announce a release before it is done,
    and `done` that may overtake the report before it."""
    for seed in range(HEARTBEAT_SEEDS):
        world = run_world(seed, dataclasses.replace(opts, reorder=seed % 2 == 1, heartbeat_peer_word_only=True))
        assert not world.violations, _explain(seed, world)


@pytest.mark.parametrize("seed_block", range(4))
def test_invariants_hold_under_dense_disruptions(seed_block: int) -> None:
    opts = Options(groups=2, partitions=seed_block % 2 == 0, fencing=seed_block >= 2, disruptions=10,
                   gap_ms=(100, 2500))
    for seed in range(seed_block * 100, seed_block * 100 + 100):
        world = run_world(seed, dataclasses.replace(opts, reorder=seed % 2 == 1))
        assert not world.violations, f"seed {seed}: {world.violations[:3]}"


def test_the_simulator_catches_a_core_that_ignores_the_peer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The invariants can fail: a core whose start gate ignores the peer's report is caught."""
    monkeypatch.setattr(Ownership, "_may_start", lambda self, key: self.phase == "running")
    monkeypatch.setattr(Ownership, "_wanted", lambda self, now: [
        k for k in self.topology.keys if self.groups.state[k].value == "stopped"])
    caught = sum(bool(run_world(seed, Options(partitions=False)).violations) for seed in range(30))
    assert caught >= 20


def test_the_simulator_catches_takeover_without_fencing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Ownership, "_may_take_from_dead", lambda self: True)
    caught = sum(bool(run_world(seed, Options(fencing=True)).violations) for seed in range(40))
    assert caught >= 5


def _record(monkeypatch: pytest.MonkeyPatch, scramble: bool) -> list[tuple[str, object]]:
    """Every non-log action of every core, its reason text blanked; with `scramble`, every reason text the
    cores read (group results) or write (start/stop actions) is replaced by random text first."""
    import random as _random

    from hbd.core.ownership_types import GroupStarted, GroupStopped, Log, StartGroup, StopGroup

    texts = _random.Random(7)
    seen: list[tuple[str, object]] = []
    original = Ownership.handle

    def noise() -> str:
        return "".join(texts.choice("abc -:/dead") for _ in range(texts.randint(0, 30)))

    def handle(self: Ownership, event: object, now: int) -> list[object]:
        if scramble and isinstance(event, (GroupStarted, GroupStopped)):
            event = dataclasses.replace(event, reason=noise())
        actions = original(self, event, now)  # type: ignore[arg-type]
        if scramble:
            actions = [dataclasses.replace(a, reason=noise()) if isinstance(a, (StartGroup, StopGroup)) else a
                       for a in actions]
        for a in actions:
            if not isinstance(a, Log):
                seen.append((self.me, dataclasses.replace(a, reason="") if isinstance(a, (StartGroup, StopGroup))
                             else a))
        return actions  # type: ignore[return-value]

    monkeypatch.setattr(Ownership, "handle", handle)
    return seen


def test_reason_texts_decide_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Random reason texts in and out give the same actions: no decision reads a reason."""
    opts = Options(groups=2, partitions=True, fencing=True, start_fail=0.2, stop_fail=0.1, disruptions=8)
    for seed in range(40):
        plain = _record(monkeypatch, scramble=False)
        run_world(seed, opts)
        monkeypatch.undo()
        scrambled = _record(monkeypatch, scramble=True)
        run_world(seed, opts)
        monkeypatch.undo()
        assert plain and plain == scrambled, f"seed {seed}"
