"""The quorum core over seeded histories of 2-5 nodes with random votes and partitions.

Every node runs its own Quorum, fed the members of its connected component after each change (nodes that
are down see nothing). Claims: with expected_votes at or above the sum of the votes (cman's default) no
two disjoint components are ever quorate at once; a component holding a majority of all votes is quorate;
with two_node both halves of a split are quorate (only fencing separates them); expected_votes above the
sum raises the quorum, and once the quorum exceeds the sum (expected_votes >= 2 x sum) nothing is ever
quorate. Mutation tests break the arithmetic and require the same histories to catch it.
"""
from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from hbd.core import quorum as quorum_module
from hbd.core.quorum import Quorum, QuorumConfig

HISTORIES, STEPS = 2000, 30


def random_partition(rng: random.Random, nodes: list[str], up: set[str]) -> list[frozenset[str]]:
    groups: dict[int, set[str]] = {}
    for node in nodes:
        if node in up:
            groups.setdefault(rng.randrange(1 + rng.randrange(3)), set()).add(node)
    return [frozenset(g) for g in groups.values()]


def run_history(seed: int, *, two_node: bool = False,
                expected_of: Callable[[int], int] = lambda total: total) -> list[str]:
    """Returns the violations found in one history."""
    rng = random.Random(seed)
    count = 2 if two_node else rng.randint(2, 5)
    nodes = [f"n{i}" for i in range(1, count + 1)]
    votes = {n: (1 if two_node else rng.randint(1, 3)) for n in nodes}
    total = sum(votes.values())
    expected = 1 if two_node else expected_of(total)
    config = QuorumConfig.of(votes, expected, two_node)
    cores: dict[str, Quorum] = {n: Quorum(config) for n in nodes}
    up = set(nodes)
    bad: list[str] = []
    for step in range(STEPS):
        if rng.random() < 0.2:  # a crash, or a boot with a fresh core (quorum state starts over)
            node = rng.choice(nodes)
            if node in up:
                up.discard(node)
            else:
                up.add(node)
                cores[node] = Quorum(config)
        components = random_partition(rng, nodes, up)
        quorate = []
        for component in components:
            for node in component:
                cores[node].update(component)
            states = {cores[n].state.quorate for n in component}
            if len(states) != 1:
                bad.append(f"seed {seed} step {step}: {sorted(component)} disagree")
            if cores[next(iter(component))].state.quorate:
                quorate.append(component)
            held = sum(votes[n] for n in component)
            if not two_node and expected == total and 2 * held > total and not all(
                    cores[n].state.quorate for n in component):
                bad.append(f"seed {seed} step {step}: {sorted(component)} hold {held}/{total} votes, not quorate")
        if two_node:
            if any(not cores[n].state.quorate for c in components for n in c):
                bad.append(f"seed {seed} step {step}: a two_node half without quorum")
        elif not config.reachable and quorate:
            bad.append(f"seed {seed} step {step}: quorate although quorum exceeds the sum of the votes")
        elif len(quorate) > 1:
            bad.append(f"seed {seed} step {step}: two quorate components {[sorted(c) for c in quorate]}")
    return bad


@pytest.mark.parametrize("chunk", range(4))
def test_no_two_quorate_components_and_every_majority_is_quorate(chunk: int) -> None:
    per = HISTORIES // 4
    bad = [v for seed in range(chunk * per, (chunk + 1) * per) for v in run_history(seed)]
    assert not bad, bad[:3]


def test_two_node_both_halves_stay_quorate() -> None:
    bad = [v for seed in range(300) for v in run_history(seed, two_node=True)]
    assert not bad, bad[:3]


def test_expected_votes_above_the_sum_raises_quorum_but_no_two_components_are_quorate() -> None:
    bad = [v for seed in range(300) for v in run_history(seed, expected_of=lambda t, s=seed: t + 1 + s % 3)]
    assert not bad, bad[:3]


def test_expected_votes_of_twice_the_sum_is_never_quorate() -> None:
    """quorum = expected // 2 + 1 > sum once expected >= 2 x sum: not even every node together."""
    assert not QuorumConfig.of({"a": 2, "b": 1}, expected_votes=6).reachable
    assert QuorumConfig.of({"a": 2, "b": 1}, expected_votes=5).reachable
    bad = [v for seed in range(300) for v in run_history(seed, expected_of=lambda t, s=seed: 2 * t + s % 3)]
    assert not bad, bad[:3]


def _caught(monkeypatch: pytest.MonkeyPatch, broken: Callable[..., tuple[int, int]]) -> bool:
    monkeypatch.setattr(quorum_module, "quorum_for", broken)
    return any(run_history(seed) for seed in range(400))


def test_mutation_half_instead_of_more_than_half_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def half(config: QuorumConfig, total: int, present: int) -> tuple[int, int]:
        expected = max(config.expected_votes, total)
        return expected, max(1, (expected + 1) // 2)  # 2 of 4 would be "quorate": a split brain
    assert _caught(monkeypatch, half)


def test_mutation_quorum_from_present_votes_only_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def present_only(config: QuorumConfig, total: int, present: int) -> tuple[int, int]:
        return total, (total + 2) // 2  # every component is a majority of itself
    assert _caught(monkeypatch, present_only)


def test_mutation_unreachable_majority_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def too_high(config: QuorumConfig, total: int, present: int) -> tuple[int, int]:
        expected = max(config.expected_votes, total)
        return expected, expected  # every node needed: a majority is refused
    assert _caught(monkeypatch, too_high)
