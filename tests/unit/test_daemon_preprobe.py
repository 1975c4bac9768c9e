"""The pre-probe's runtime half: the VIPs of the groups a round asks about are probed for the window, and
what was heard goes back to the node core as one verdict per group (the core decides: test_pre_probe_verdict.py)."""
from __future__ import annotations

import threading
import time

from daemon_fakes import group

from hbd.config.model import ResourceNode
from hbd.core.node_events import PreProbeVerdict
from hbd.runtime.preprobe import PreProbe, Target


def vip(text: str) -> ResourceNode:
    return ResourceNode(type="IPaddr2", primary=f"IPaddr2::{text}", attrs=(("args", text),))


ROOTS = {
    "web": ResourceNode(type="group", primary="web", children=(vip("192.0.2.50/24"), vip("192.0.2.51/24"))),
    "db": group("db", "script1"),  # no VIP: never probed, no verdict
}


class FakeProbe:
    def __init__(self, answers: dict[str, str | None]):
        self.answers = answers
        self.calls: list[tuple[str, float]] = []
        self.lock = threading.Lock()

    def __call__(self, iface: str, mac: str, ip: str, seconds: float) -> str | None:
        with self.lock:
            self.calls.append((ip, seconds))
        time.sleep(seconds)
        return self.answers.get(ip)


def locate(node: ResourceNode) -> Target:
    return Target("eth0", "02:00:00:00:00:02", node.primary.split("::")[1].split("/")[0])


def make(answers: dict[str, str | None]) -> tuple[PreProbe, FakeProbe, list[PreProbeVerdict]]:
    probe = FakeProbe(answers)
    pp = PreProbe(ROOTS, probe=probe, locate=locate)
    reported: list[PreProbeVerdict] = []
    pp.on_verdicts = reported.extend
    return pp, probe, reported


def settle(pp: PreProbe) -> None:
    deadline = time.monotonic() + 5
    while pp._busy and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not pp._busy


def reported_after(pp: PreProbe, reported: list[PreProbeVerdict], count: int = 1) -> list[PreProbeVerdict]:
    deadline = time.monotonic() + 5
    while len(reported) < count and time.monotonic() < deadline:
        time.sleep(0.005)
    settle(pp)
    return reported


def test_silent_vips_give_a_silent_whole_window_for_the_group_and_nothing_for_a_group_without_vips() -> None:
    pp, probe, reported = make({})
    before = round(time.monotonic() * 1000)
    assert pp.start_round(frozenset({"web", "db"}), 0.05, 0.01)
    [verdict] = reported_after(pp, reported)
    assert sorted(ip for ip, _ in probe.calls) == ["192.0.2.50", "192.0.2.51"]
    assert verdict.group == "web" and verdict.silent
    assert verdict.listened_ms >= 50 * 0.95 and before + 50 <= verdict.ended_ms <= round(time.monotonic() * 1000)


def test_one_answering_vip_makes_the_group_not_silent() -> None:
    pp, _, reported = make({"192.0.2.51": "02:00:00:00:00:01"})
    pp.start_round(frozenset({"web"}), 0.05, 0.01)
    [verdict] = reported_after(pp, reported)
    assert verdict.group == "web" and not verdict.silent


def test_a_failing_probe_is_not_silent_and_is_located_again() -> None:
    located: list[str] = []

    def failing(iface: str, mac: str, ip: str, seconds: float) -> str | None:
        raise OSError("no such device")

    def counting(node: ResourceNode) -> Target:
        located.append(node.primary)
        return locate(node)

    pp = PreProbe(ROOTS, probe=failing, locate=counting)
    reported: list[PreProbeVerdict] = []
    pp.on_verdicts = reported.extend
    pp.prepare()
    assert len(located) == 2
    pp.start_round(frozenset({"web"}), 0.01, 0.0)
    [verdict] = reported_after(pp, reported)
    assert not verdict.silent and pp.targets == {}


def test_a_round_asked_for_by_the_node_core_probes_the_groups_vips_once_at_a_time() -> None:
    """`ProbeNow` (hbd/core/node.py, which decides when) is carried out by start_round."""
    pp, probe, reported = make({})
    assert pp.start_round(frozenset({"web", "db"}), 0.02, 0.01)
    assert not pp.start_round(frozenset({"web"}), 0.02, 0.01)  # one round at a time
    assert not pp.start_round(frozenset({"db"}), 0.02, 0.01)  # nothing to probe
    [verdict] = reported_after(pp, reported)
    assert sorted(ip for ip, _ in probe.calls) == ["192.0.2.50", "192.0.2.51"]
    assert all(seconds == 0.02 for _, seconds in probe.calls)
    assert verdict.silent
