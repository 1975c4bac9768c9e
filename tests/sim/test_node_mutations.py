"""The node simulator catches a broken safety rule: each test breaks one rule of the composed core and
requires the invariants of tests/sim/node_world.py to report it within a few hundred seeded histories."""
from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from hbd.core import node_events as n
from hbd.core import ownership_types as o
from hbd.core.node import NodeCore
from node_world import Options, run_world

SEEDS = 300


def first_violation(opts: Options, wanted: str) -> tuple[int, str]:
    for seed in range(SEEDS):
        world = run_world(seed, opts)
        found = [v for v in world.violations if wanted in v]
        if found:
            return seed, found[0]
    raise AssertionError(f"no history of {SEEDS} showed '{wanted}'")


def test_the_simulator_passes_the_unbroken_core_on_the_same_seeds() -> None:
    for opts in (Options(), Options(fencing=True), Options(loss=0.03)):
        for seed in range(60):
            assert not run_world(seed, opts).violations, seed


def test_comm_up_reporting_a_live_peer_dead_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Broken: membership -> ownership says at CommUp that the peer is dead (so both take everything)."""
    real = NodeCore._feed

    def broken(self: NodeCore, event: o.Event, out: list[n.Action]) -> None:
        real(self, o.CommUp(peer_alive=False) if isinstance(event, o.CommUp) else event, out)
    monkeypatch.setattr(NodeCore, "_feed", broken)
    seed, text = first_violation(Options(), "while the live, connected peer")
    assert seed < SEEDS, text


def test_taking_over_without_waiting_for_fencing_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Broken: the node core runs its ownership part as if no fence device were configured."""
    real = NodeCore.__init__

    def broken(self: NodeCore, config: Any, now_ms: int, **kwargs: Any) -> None:
        config = dataclasses.replace(config, policy=dataclasses.replace(config.policy, fencing=False))
        real(self, config, now_ms, **kwargs)
    monkeypatch.setattr(NodeCore, "__init__", broken)
    first_violation(Options(fencing=True), "dead to it but unfenced")


def test_declaring_the_peer_dead_when_the_pre_probe_starts_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Broken: the takeover starts with the pre-probe (deadtime - window - lead) instead of the verdict."""
    real = NodeCore._maybe_probe

    def broken(self: NodeCore, now: int, out: list[n.Action]) -> None:
        before = len(out)
        real(self, now, out)
        if len(out) > before and not self.peer_dead:
            self.peer_dead = True
            self._feed(o.PeerDied(self.peer), out)
    monkeypatch.setattr(NodeCore, "_maybe_probe", broken)
    first_violation(Options(loss=0.03, kinds=("standby", "takeover", "shutdown")), "while the live, connected peer")
