"""The group state machine, edge by edge: every allowed edge changes the state and emits its transition;
every other edge raises IllegalTransition and changes nothing."""
from __future__ import annotations

import itertools

import pytest

from hbd.core.group_states import TRANSITIONS, GroupOperations, IllegalTransition
from hbd.core.holdings import GroupInfo
from hbd.core.ownership_types import Cause, GroupState, GroupTransition, Op, Outbox, StartGroup, StopGroup

S = GroupState
GROUPS_1 = (GroupInfo("g1", "n2"),)


def at(state: GroupState) -> GroupOperations:
    """A group `g` brought to `state` along allowed edges only."""
    ops, out = GroupOperations(["g"]), Outbox()
    path = {S.STOPPED: [], S.RUNNING: [S.RUNNING], S.PARTIAL: [S.PARTIAL], S.STARTING: [S.STARTING],
            S.STOPPING: [S.RUNNING, S.STOPPING], S.FAILED: [S.RUNNING, S.STOPPING, S.FAILED]}[state]
    for new in path:
        ops.change_state("g", new, Cause.PROBED, out)
    assert ops.state["g"] is state
    return ops


def _edge(old: GroupState, new: GroupState) -> None:
    ops, out = at(old), Outbox()
    ops.change_state("g", new, Cause.PREFERRED, out)
    assert ops.state["g"] is new
    assert out.actions == [GroupTransition("g", old, new, Cause.PREFERRED)]


def test_stopped_to_running_when_the_probe_finds_it_running() -> None:
    _edge(S.STOPPED, S.RUNNING)


def test_stopped_to_partial_when_the_probe_finds_part_of_it() -> None:
    _edge(S.STOPPED, S.PARTIAL)


def test_stopped_to_starting() -> None:
    _edge(S.STOPPED, S.STARTING)


def test_partial_to_starting_to_complete_it() -> None:
    _edge(S.PARTIAL, S.STARTING)


def test_starting_to_running() -> None:
    _edge(S.STARTING, S.RUNNING)


def test_starting_to_stopped_when_the_start_fails() -> None:
    _edge(S.STARTING, S.STOPPED)


def test_running_to_stopping() -> None:
    _edge(S.RUNNING, S.STOPPING)


def test_partial_to_stopping() -> None:
    _edge(S.PARTIAL, S.STOPPING)


def test_failed_to_stopping_when_tried_again() -> None:
    _edge(S.FAILED, S.STOPPING)


def test_stopping_to_stopped() -> None:
    _edge(S.STOPPING, S.STOPPED)


def test_stopping_to_failed_after_every_retry() -> None:
    _edge(S.STOPPING, S.FAILED)


def test_the_tests_above_name_every_edge_of_the_table() -> None:
    assert len(TRANSITIONS) == 11


ILLEGAL = [(a, b) for a, b in itertools.product(S, S) if (a, b) not in TRANSITIONS]


@pytest.mark.parametrize("old,new", ILLEGAL, ids=[f"{a.value}-{b.value}" for a, b in ILLEGAL])
def test_an_illegal_edge_raises_and_changes_nothing(old: GroupState, new: GroupState) -> None:
    ops, out = at(old), Outbox()
    with pytest.raises(IllegalTransition):
        ops.change_state("g", new, Cause.PREFERRED, out)
    assert ops.state["g"] is old and out.actions == []


def test_starting_straight_to_stopping_is_illegal() -> None:
    """A start in progress is never stopped midway: the stop waits for its outcome."""
    assert (S.STARTING, S.STOPPING) in ILLEGAL and (S.RUNNING, S.STARTING) in ILLEGAL


def test_the_outcome_carries_the_cause_of_its_operation() -> None:
    ops, out = GroupOperations(["g"]), Outbox()
    ops.enqueue(Op.START, "g", Cause.PEER_DEAD, "n2 is dead")
    ops.pump(out, lambda key: True, "n2")
    ops.finish("g", S.RUNNING, out)
    kinds = [a for a in out.actions if isinstance(a, (GroupTransition, StartGroup, StopGroup))]
    assert kinds == [GroupTransition("g", S.STOPPED, S.STARTING, Cause.PEER_DEAD),
                     StartGroup("g", "n2 is dead", Cause.PEER_DEAD),
                     GroupTransition("g", S.STARTING, S.RUNNING, Cause.PEER_DEAD)]
    assert ops.idle


def test_a_stale_queued_operation_drops_out() -> None:
    ops, out = at(S.RUNNING), Outbox()
    ops.enqueue(Op.START, "g", Cause.PREFERRED, "x")
    ops.pump(out, lambda key: True, "n2")
    assert ops.idle and out.actions == []


def test_the_core_reports_every_change_of_state_as_a_transition_and_a_frozen_view() -> None:
    import dataclasses

    from hbd.core.holdings import Topology
    from hbd.core.ownership import Ownership
    from hbd.core.ownership_types import CommUp, GroupStarted, Probed

    core = Ownership("n1", "n2", Topology(GROUPS_1))
    actions = core.handle(Probed(frozenset()), 0) + core.handle(CommUp(False), 1)
    actions += core.handle(GroupStarted("g1", True), 2)
    moves = [a for a in actions if isinstance(a, GroupTransition)]
    assert moves == [GroupTransition("g1", S.STOPPED, S.STARTING, Cause.PEER_DEAD),
                     GroupTransition("g1", S.STARTING, S.RUNNING, Cause.PEER_DEAD)]
    view = core.view()
    assert view.groups["g1"] is S.RUNNING and view.busy is None and view.owner("g1") == "n1"
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.busy = "g1"  # type: ignore[misc]
