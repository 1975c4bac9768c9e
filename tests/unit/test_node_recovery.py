"""Monitoring in the composed node core: a failed check of a running group restarts it in place (RestartGroup,
its outcome back as RecoveryDone); beyond max_restarts the group is handed to the live peer through the
standby exchange (never held by both); with no peer, restarted in place again; stale results are ignored."""
from __future__ import annotations

from typing import Callable

from hbd.core import ownership_types as o
from hbd.core import recovery as r
from test_node_core import Pair

POLICY = r.GroupRecovery(r.RecoveryPolicy(r.Recovery.RESTART, max_restarts=2, restart_expire_ms=600_000))


def settled() -> Pair:
    pair = Pair(recovery=POLICY)
    pair.run_until(5000)
    assert pair.nodes["n1"].ownership.held == {"g1"} and pair.nodes["n2"].ownership.held == {"g2"}
    return pair


def fail_check(pair: Pair, name: str, group: str = "g1") -> list[object]:
    actions = pair.nodes[name].handle(r.CheckFailed(group, "lsb::db", "stopped"), pair.now)
    pair.carry(name, actions)  # type: ignore[arg-type]
    return [a for a in actions if isinstance(a, (r.RestartGroup, r.RestartResource))]


def test_a_failed_check_restarts_in_place_and_the_group_stays_held() -> None:
    pair = settled()
    assert fail_check(pair, "n1") == [r.RestartGroup("g1", 1)]
    pair.carry("n1", pair.nodes["n1"].handle(r.RecoveryDone("g1", True), pair.now + 10))
    pair.run_until(pair.now + 2000)
    assert pair.nodes["n1"].ownership.held == {"g1"}
    assert pair.nodes["n1"].recovery.counts("g1", pair.now).failures == 1


def test_beyond_max_restarts_the_group_moves_to_the_peer_and_is_never_held_twice() -> None:
    pair = settled()
    for _ in range(2):
        assert fail_check(pair, "n1")
        pair.carry("n1", pair.nodes["n1"].handle(r.RecoveryDone("g1", True), pair.now))
        pair.run_until(pair.now + 500)
    assert fail_check(pair, "n1") == []  # the third failure: handed over
    for _ in range(40):
        pair.run_until(pair.now + 100)
        assert not (pair.nodes["n1"].ownership.held & pair.nodes["n2"].ownership.held)
    assert pair.nodes["n2"].ownership.held == {"g1", "g2"} and pair.nodes["n1"].ownership.held == frozenset()


def test_with_the_peer_dead_the_group_is_restarted_in_place_again() -> None:
    pair = settled()
    pair.silent.add("n2")
    pair.run_until(pair.now + 3000)  # n2 declared dead; n1 takes g2 over
    for _ in range(2):
        fail_check(pair, "n1")
        pair.carry("n1", pair.nodes["n1"].handle(r.RecoveryDone("g1", True), pair.now))
    assert fail_check(pair, "n1") == [r.RestartGroup("g1", 0)]
    assert "g1" in pair.nodes["n1"].ownership.held


def test_a_check_of_a_group_not_running_here_is_ignored() -> None:
    pair = settled()
    assert fail_check(pair, "n1", "g2") == []
    assert pair.nodes["n1"].recovery.counts("g2", pair.now).failures == 0


def test_hand_off_of_a_group_not_running_is_ignored_by_ownership() -> None:
    pair = settled()
    own = pair.nodes["n1"].ownership
    assert own.handle(o.HandOff("g2", "x"), pair.now) == [] or "g2" not in own.handoff
    assert "g2" not in own.handoff


def beyond_restarts(pair: Pair, before_third: Callable[[], None] = lambda: None) -> list[object]:
    """Two restarts in place of g1 on n1, then the third failed check: what n1 does at once."""
    for _ in range(2):
        assert fail_check(pair, "n1")
        pair.carry("n1", pair.nodes["n1"].handle(r.RecoveryDone("g1", True), pair.now))
        pair.run_until(pair.now + 500)
    before_third()
    return fail_check(pair, "n1")


def test_a_hand_off_the_peer_refuses_restarts_the_group_in_place() -> None:
    # The peer in flux (just booted, or busy with a group of its own) refuses the standby request: the dead
    # group must not stay as it is, held here and never restarted (a killed postmaster whose backends went
    # on serving for a minute in a bench run).
    pair = settled()
    standby = pair.nodes["n2"].ownership.standby
    standby._peer_offers = lambda m, now, out: standby._refuse(out, m.word, "resources in flux")  # type: ignore[method-assign]
    mark = len(pair.out["n1"])
    assert beyond_restarts(pair) == []  # asked: the refusal comes back on the wire, with the restart
    assert [a for _, a in pair.out["n1"][mark:] if isinstance(a, r.RestartGroup)][-1:] == [r.RestartGroup("g1", 0)]
    logs = [a.text for _, a in pair.out["n1"] if isinstance(a, o.Log)]
    assert any("did not take it" in t and "restarting it in place" in t for t in logs), logs[-5:]
    assert pair.nodes["n1"].ownership.held == {"g1"} and "g1" not in pair.nodes["n2"].ownership.held
    assert pair.nodes["n1"].recovery.handle(r.CheckFailed("g1", "lsb::db", "stopped"), pair.now) == []  # busy


def test_a_hand_off_the_peer_does_not_answer_restarts_the_group_in_place() -> None:
    pair = settled()
    pair.nodes["n2"].ownership.standby._peer_offers = lambda m, now, out: None  # type: ignore[method-assign]
    assert beyond_restarts(pair) == []  # asked; no answer yet
    restarts: list[object] = []
    for _ in range(120):  # the standby request's reply bound (10 s), in 100 ms steps
        pair.run_until(pair.now + 100)
        restarts += [a for _, a in pair.out["n1"] if isinstance(a, r.RestartGroup) and a.restarts == 0]
        if restarts:
            break
    assert restarts == [r.RestartGroup("g1", 0)]
    assert pair.nodes["n1"].ownership.held == {"g1"}


def test_with_the_peer_in_flux_the_group_is_restarted_in_place_again() -> None:
    pair = settled()
    def in_flux() -> None:  # n2's last report: not stable (a start of its own under way)
        pair.nodes["n1"].ownership.peer_view.stable = False
    assert beyond_restarts(pair, in_flux) == [r.RestartGroup("g1", 0)]
    assert pair.nodes["n1"].ownership.handoff == set()
