"""The split-brain plan (hbd/core/splitbrain_plan.py): which checks must hold, and the exact commands per node."""
from __future__ import annotations

import pytest

from hbd.core.splitbrain_plan import Facts, PlanError, Verb, plan, render, victim_checks


def after_split(**victim: object) -> dict[str, Facts]:
    """n1 and n2 both StandAlone after DRBD found the split brain; n1 still Primary with the service."""
    n2 = dict(role="Secondary", disk="UpToDate", connection="StandAlone")
    n2.update(victim)  # type: ignore[arg-type]
    return {"n1": Facts("n1", "r0", "Primary", "UpToDate", "StandAlone", ("/srv/data",), ("g1",)),
            "n2": Facts("n2", "r0", **n2)}  # type: ignore[arg-type]


def test_the_victim_discards_and_the_survivor_connects() -> None:
    p = plan("r0", "n1", after_split())
    assert p.ok and p.victim == "n2" and not p.connected
    assert [(s.node, s.command) for s in p.steps] == [
        ("n2", "drbdadm secondary r0"), ("n2", "drbdadm disconnect r0"),
        ("n2", "drbdadm -- --discard-my-data connect r0"), ("n1", "drbdadm connect r0")]
    text = render(p)
    assert text[0] == "r0: keep n1's data, discard n2's changes since the split"
    assert "  on n2 (victim):" in text and "  on n1 (survivor):" in text
    assert text.index("  on n2 (victim):") < text.index("    drbdadm -- --discard-my-data connect r0") \
        < text.index("  on n1 (survivor):") < text.index("    drbdadm connect r0")
    assert "    [ok] n2: r0's filesystem is not mounted here (not mounted)" in text


def test_a_survivor_still_waiting_connects_by_itself() -> None:
    facts = after_split()
    facts["n1"] = Facts("n1", "r0", "Primary", "UpToDate", "WFConnection")
    p = plan("r0", "n1", facts)
    assert p.ok and [s.verb for s in p.steps] == [Verb.SECONDARY, Verb.DISCONNECT, Verb.DISCARD_CONNECT]
    assert "    nothing: it connects by itself" in render(p)


@pytest.mark.parametrize("victim,failing", [
    (dict(role="Primary", mounted=("/srv/data",)), "r0's filesystem is not mounted here"),
    (dict(role="Primary", groups=("g1",)), "no group using r0 runs here"),
    (dict(error="drbdadm cstate r0: timed out"), "drbdadm answers for r0"),
])
def test_a_failing_check_on_the_victim_refuses_the_whole_plan(victim: dict[str, object], failing: str) -> None:
    p = plan("r0", "n1", after_split(**victim))
    assert not p.ok and [c.must for c in p.failed] == [failing] and p.failed[0].node == "n2"
    assert any("[FAILED] n2: " + failing in line for line in render(p))


def test_the_survivor_must_be_primary_or_up_to_date() -> None:
    facts = after_split()
    facts["n1"] = Facts("n1", "r0", "Secondary", "Outdated", "StandAlone")
    p = plan("r0", "n1", facts)
    assert [c.must for c in p.failed] == ["n1 is Primary, or has UpToDate data, for r0"]
    facts["n1"] = Facts("n1", "r0", "Secondary", "UpToDate", "StandAlone")
    assert plan("r0", "n1", facts).ok


def test_keeping_the_other_node_swaps_the_roles() -> None:
    p = plan("r0", "n2", after_split())
    assert p.victim == "n1" and not p.ok  # n1 still runs g1 and has the filesystem mounted
    assert {c.must for c in p.failed} == {"no group using r0 runs here", "r0's filesystem is not mounted here"}
    assert [s.node for s in p.steps] == ["n1", "n1", "n1", "n2"]


def test_connected_on_both_means_nothing_to_do() -> None:
    facts = {n: Facts(n, "r0", "Secondary", "UpToDate", "Connected") for n in ("n1", "n2")}
    p = plan("r0", "n1", facts)
    assert p.ok and p.connected and p.steps == ()
    assert "  r0 is Connected on both nodes: no split brain, nothing to do" in render(p)


def test_an_unknown_node_to_keep_is_an_error() -> None:
    with pytest.raises(PlanError, match="--keep n3: not a node of this pair"):
        plan("r0", "n3", after_split())


def test_only_the_destructive_verbs_need_the_victim_checks_again() -> None:
    assert [v for v in Verb if v.destructive] == [Verb.SECONDARY, Verb.DISCONNECT, Verb.DISCARD_CONNECT]
    assert all(c.ok for c in victim_checks(Facts("n2", "r0", "Secondary", "UpToDate", "StandAlone")))
