"""The recovery policy (hbd/core/recovery.py): restart in place within max_restarts per window, then relocate
or disable; tolerated failures; independent subtrees; a failed restart escalates; cleanup."""
from __future__ import annotations

from hbd.core import recovery as r
from hbd.core.ownership_types import Log

RESTART3 = r.RecoveryPolicy(r.Recovery.RESTART, max_restarts=3, restart_expire_ms=60_000)


def decisions(actions: list[r.Action]) -> list[r.Action]:
    return [a for a in actions if not isinstance(a, Log)]


def fail(core: r.RecoveryCore, now: int, group: str = "g", subtree: str | None = None) -> list[r.Action]:
    out = decisions(core.handle(r.CheckFailed(group, "lsb::db", "stopped", subtree), now))
    for action in out:
        if isinstance(action, (r.RestartGroup, r.RestartResource)):
            core.handle(r.RecoveryDone(group, True, subtree=getattr(action, "subtree", None)), now + 1)
    return out


def test_restarts_in_place_up_to_max_restarts_then_relocates() -> None:
    core = r.RecoveryCore({"g": r.GroupRecovery(RESTART3)})
    assert [fail(core, t) for t in (0, 10, 20)] == [[r.RestartGroup("g", 1)], [r.RestartGroup("g", 2)],
                                                   [r.RestartGroup("g", 3)]]
    assert fail(core, 30) == [r.Relocate("g", 4)]
    assert core.counts("g", 31) == r.FailCount(4, 0, r.LastFailure("lsb::db", 30, "stopped"))


def test_restarts_older_than_the_window_are_forgotten() -> None:
    core = r.RecoveryCore({"g": r.GroupRecovery(RESTART3)})
    for t in (0, 10, 20):
        fail(core, t)
    assert fail(core, 60_001) == [r.RestartGroup("g", 3)]  # the one at 0 expired
    assert core.counts("g", 60_011).restarts == 2  # 10 has expired by now too


def test_unlimited_restarts_with_max_restarts_0() -> None:
    core = r.RecoveryCore({}, r.GroupRecovery(r.RecoveryPolicy(r.Recovery.RESTART)))
    assert all(fail(core, t) == [r.RestartGroup("g", t + 1)] for t in range(50))


def test_relocate_and_disable_policies_never_restart() -> None:
    reloc = r.RecoveryCore({"g": r.GroupRecovery(r.RecoveryPolicy(r.Recovery.RELOCATE))})
    assert fail(reloc, 0) == [r.Relocate("g", 1)]
    dis = r.RecoveryCore({"g": r.GroupRecovery(r.RecoveryPolicy(r.Recovery.DISABLE))})
    assert fail(dis, 0) == [r.Disable("g", 1)]


def test_restart_disable_disables_beyond_the_threshold() -> None:
    core = r.RecoveryCore({"g": r.GroupRecovery(r.RecoveryPolicy(r.Recovery.RESTART_DISABLE, max_restarts=1))})
    assert fail(core, 0) == [r.RestartGroup("g", 1)]
    assert fail(core, 5) == [r.Disable("g", 2)]


def test_a_failed_restart_escalates_at_once() -> None:
    core = r.RecoveryCore({"g": r.GroupRecovery(RESTART3)})
    assert decisions(core.handle(r.CheckFailed("g", "lsb::db", "stopped"), 0)) == [r.RestartGroup("g", 1)]
    assert decisions(core.handle(r.RecoveryDone("g", False, "lsb::db start failed"), 5)) == [r.Relocate("g", 1)]
    assert core.counts("g", 6).last == r.LastFailure("g", 5, "lsb::db start failed")


def test_failures_while_a_restart_runs_are_ignored() -> None:
    core = r.RecoveryCore({"g": r.GroupRecovery(RESTART3)})
    core.handle(r.CheckFailed("g", "a", "x"), 0)
    assert core.handle(r.CheckFailed("g", "b", "y"), 1) == []
    assert core.counts("g", 2).failures == 1


def test_tolerated_failures_count_as_success_until_max_failures_within_their_window() -> None:
    policy = r.RecoveryPolicy(r.Recovery.RESTART, max_failures=3, failure_expire_ms=100)
    core = r.RecoveryCore({"g": r.GroupRecovery(policy)})
    assert fail(core, 0) == [] and fail(core, 10) == []
    assert fail(core, 20) == [r.RestartGroup("g", 1)]
    assert fail(core, 200) == [] and fail(core, 400) == []  # spread wider than the window: tolerated


def test_an_independent_subtree_restarts_alone_then_the_group_is_recovered() -> None:
    sub = r.RecoveryPolicy(r.Recovery.RESTART, max_restarts=2, restart_expire_ms=1000)
    core = r.RecoveryCore({"g": r.GroupRecovery(r.RecoveryPolicy(r.Recovery.RELOCATE), {"script:two": sub})})
    assert fail(core, 0, subtree="script:two") == [r.RestartResource("g", "script:two", 1)]
    assert fail(core, 1, subtree="script:two") == [r.RestartResource("g", "script:two", 2)]
    assert fail(core, 2, subtree="script:two") == [r.Relocate("g", 3)]
    # a subtree that is not independent in the configuration counts for the whole group
    assert fail(core, 3, subtree="script:one") == [r.Relocate("g", 4)]


def test_a_failed_subtree_restart_recovers_the_whole_group() -> None:
    core = r.RecoveryCore({"g": r.GroupRecovery(RESTART3, {"s": r.RecoveryPolicy()})})
    core.handle(r.CheckFailed("g", "x", "y", "s"), 0)
    assert decisions(core.handle(r.RecoveryDone("g", False, "nope", "s"), 1)) == [r.RestartGroup("g", 1)]


def test_cleanup_forgets_counts_of_one_group_or_all() -> None:
    core = r.RecoveryCore({})
    fail(core, 0, "a")
    fail(core, 0, "b")
    core.handle(r.Cleared("a"), 5)
    assert core.counts("a", 5) == r.FailCount() and core.counts("b", 5).failures == 1
    core.handle(r.Cleared(), 6)
    assert core.counts("b", 6) == r.FailCount()


def test_haresources_default_is_two_restarts_in_ten_minutes() -> None:
    core = r.RecoveryCore({})
    assert [fail(core, t) for t in (0, 1, 2)] == [[r.RestartGroup("g", 1)], [r.RestartGroup("g", 2)],
                                                 [r.Relocate("g", 3)]]
