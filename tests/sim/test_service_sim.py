"""The service cores over 10 000 seeded histories of 2-5 nodes (tests/sim/service_world.py): random
partitions, crashes, boots, resource failures and admin requests; never two owners of a service in a
quorate component, never outside a restricted domain, no illegal state edge, convergence after quiet.
The mutation tests break one rule each and require the same world to catch it."""
from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

import pytest

from hbd.core import service_placement
from hbd.core.service_coordinator import Coordinator
from hbd.core.service_events import QuorumChanged
from hbd.core.service_node import ServiceNode
from hbd.core.service_table import Entry
from service_world import Options, World, run_world

CHUNKS, PER_CHUNK = 20, 500  # 10 000 histories, spread over the test workers
MUTATION_SEEDS = 400


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_seeded_histories_keep_every_invariant_and_converge(chunk: int) -> None:
    """Odd chunks with fencing: the quorate side powers off the nodes it lost and tells its cores."""
    bad = []
    opts = Options(fencing=chunk % 2 == 1)
    for seed in range(chunk * PER_CHUNK, (chunk + 1) * PER_CHUNK):
        world = run_world(seed, opts)
        if world.violations:
            bad.append((seed, world.violations[:2]))
    assert not bad, bad[:3]


def test_the_histories_exercise_what_they_claim() -> None:
    """Over a sample: failovers, stops by nodes without quorum, recoveries, self-fencing, refusals all happen."""
    total: Counter[str] = Counter()
    for seed in range(300):
        total += run_world(seed, Options(fencing=seed % 2 == 1)).stats
    for kind in ("start", "failover", "minority stop", "recovery", "self-fence", "refusal", "partition", "fenced",
                 "start-up stop failed"):
        assert total[kind] > 0, (kind, total)


def first_violation(wanted: str, opts: Options | None = None) -> tuple[int, str]:
    for seed in range(MUTATION_SEEDS):
        world = run_world(seed, opts)
        found = [v for v in world.violations if wanted in v]
        if found:
            return seed, found[0]
    raise AssertionError(f"no history of {MUTATION_SEEDS} showed '{wanted}'")


def test_the_unbroken_core_passes_the_mutation_seeds() -> None:
    for seed in range(100):
        assert not run_world(seed).violations, seed


def test_a_coordinator_elected_without_quorum_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Broken: the lowest nodeid of any membership coordinates, quorate or not."""
    monkeypatch.setattr(ServiceNode, "leader", property(lambda self: self.catalog.coordinator(self.members)))
    real = ServiceNode._announced

    def quorum_blind(self: ServiceNode, ann: Any, out: Any) -> None:
        quorate, self.quorate = self.quorate, True
        try:
            real(self, ann, out)
        finally:
            self.quorate = quorate
    monkeypatch.setattr(ServiceNode, "_announced", quorum_blind)
    real_handle = ServiceNode.handle

    def no_quorum_loss(self: ServiceNode, event: Any, now: int) -> Any:
        return real_handle(self, QuorumChanged(True) if isinstance(event, QuorumChanged) else event, now)
    monkeypatch.setattr(ServiceNode, "handle", no_quorum_loss)
    first_violation("two owners")


def test_a_minority_that_keeps_its_services_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Broken: losing quorum stops nothing (the node only stops following announcements)."""
    real = ServiceNode._follow

    def keep(self: ServiceNode, out: Any) -> bool:
        if not self.quorate:
            return False
        return real(self, out)
    monkeypatch.setattr(ServiceNode, "_follow", keep)
    first_violation("two owners")


def test_placing_without_waiting_for_the_departed_nodes_grace_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Broken: the coordinator gives `go` while a departed node may still be stopping its services."""
    real = Coordinator._computed
    monkeypatch.setattr(Coordinator, "_computed", lambda self, table, suspects: real(self, table, False))
    first_violation("two owners")


def test_go_before_the_previous_owner_confirmed_its_stop_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Broken: every placement gets `go` at once (no waiting for acknowledgements and stops)."""
    real = Coordinator._computed

    def eager(self: Coordinator, table: Any, suspects: bool) -> dict[str, Entry]:
        out = real(self, table, suspects)
        return {k: replace(v, go=v.placement is not None) for k, v in out.items()}
    monkeypatch.setattr(Coordinator, "_computed", eager)
    first_violation("two owners")


def test_a_restricted_domain_ignored_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Broken: placement treats every domain as unrestricted."""
    monkeypatch.setattr(service_placement, "eligible", lambda spec, members: members)
    first_violation("outside restricted domain")


def test_a_coordinator_that_ignores_reports_is_caught_by_convergence(monkeypatch: pytest.MonkeyPatch) -> None:
    """Broken: the coordinator drops every report, so it never adopts a table nor announces one."""
    monkeypatch.setattr(Coordinator, "report", lambda self, report, suspects: [])
    first_violation("no convergence")


def test_world_records_are_deterministic() -> None:
    a, b = World(7, Options()), World(7, Options())
    assert a.catalog == b.catalog
