"""The node core decides from the pre-probe's verdict whether a takeover skips IPaddr2's duplicate-address
probe (hbd/core/pre_probe.py): only a takeover from the dead peer, only after a whole, fresh, silent
window for every address of the group; the runtime reports what it heard and carries the option out."""
from __future__ import annotations

from typing import Callable

from test_node_core import Pair

from hbd.core import node_events as n
from hbd.core import ownership_types as o
from hbd.core.pre_probe import PreProbeClock, ProbeTiming, probe_timing


Report = Callable[[n.ProbeNow, int, int], n.PreProbeVerdict]


def takeover(verdict: Report | None = None) -> o.StartGroup:
    """n2 holds g2 and goes silent (power-off); n1's pre-probe round runs; `verdict(round, began, ended)` is
    what the round reports at its end (None: nothing reported); n1 takes g2 over."""
    pair = Pair(probe_groups=frozenset({"g2"}))
    pair.run_until(6000)
    pair.silent.add("n2")
    n1 = pair.nodes["n1"]
    while not any(isinstance(a, n.ProbeNow) for _, a in pair.out["n1"]):
        pair.run_until(n1.next_deadline())
    began, round_ = next((t, a) for t, a in pair.out["n1"] if isinstance(a, n.ProbeNow))
    if verdict is not None:
        ended = began + round_.window_ms
        pair.run_until(ended)
        pair.carry("n1", n1.handle(verdict(round_, began, ended), pair.now))
    pair.run_until(pair.now + 2000)
    starts = [a for _, a in pair.out["n1"] if isinstance(a, o.StartGroup) and a.key == "g2"]
    assert len(starts) == 1 and starts[0].cause is o.Cause.PEER_DEAD, starts
    return starts[0]


def silent(round_: n.ProbeNow, began: int, ended: int) -> n.PreProbeVerdict:
    return n.PreProbeVerdict("g2", True, ended - began, ended)


def test_a_silent_whole_fresh_window_releases_the_takeover() -> None:
    start = takeover(silent)
    assert start.pre_probe_silent and start.peer_released


def test_no_verdict_an_answer_a_cut_short_window_or_another_group_keep_the_probe() -> None:
    assert not takeover(None).peer_released
    assert not takeover(lambda r, b, e: n.PreProbeVerdict("g2", False, e - b, e)).peer_released  # answered
    assert not takeover(lambda r, b, e: n.PreProbeVerdict("g2", True, (e - b) // 2, e)).peer_released
    assert not takeover(lambda r, b, e: n.PreProbeVerdict("g1", True, e - b, e)).peer_released


def test_a_verdict_older_than_its_freshness_at_the_takeover_keeps_the_probe() -> None:
    clock = PreProbeClock(frozenset({"g"}))
    timing = probe_timing(1000)
    clock.asked["g"] = timing
    clock.heard(n.PreProbeVerdict("g", True, timing.window_ms, 10_000))
    assert clock.silent("g", 10_000 + timing.fresh_ms)
    assert not clock.silent("g", 10_000 + timing.fresh_ms + 1)
    assert not clock.silent("other", 10_000)
    assert clock.silent("g", 10_000)


def test_a_verdict_for_a_group_no_round_asked_about_is_ignored() -> None:
    clock = PreProbeClock(frozenset({"g"}))
    clock.heard(n.PreProbeVerdict("g", True, 200, 0))
    assert not clock.silent("g", 0)


def test_freshness_is_the_window_and_twice_the_lead_bounded() -> None:
    assert ProbeTiming(200, 80).fresh_ms == 360
    assert ProbeTiming(5, 3).fresh_ms == 50
    assert ProbeTiming(400, 200).fresh_ms == 500
    for deadtime in (50, 100, 500, 1000, 3000, 30000):
        t = probe_timing(deadtime)
        assert t.window_ms <= max(5, deadtime // 5) and t.window_ms <= 200
        assert 0 < t.lead_ms and t.start_after_ms <= deadtime // 2  # a round starts after half the deadtime
        assert t.fresh_ms >= t.start_after_ms  # the verdict is still fresh at the takeover


def test_a_start_the_peer_released_needs_no_verdict() -> None:
    for cause in (o.Cause.HANDOVER, o.Cause.PEER_GAVE_UP):
        assert o.StartGroup("g", "", cause).peer_released
    assert not o.StartGroup("g", "", o.Cause.PEER_DEAD).peer_released
    assert not o.StartGroup("g", "", o.Cause.PREFERRED).peer_released
