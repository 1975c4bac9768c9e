"""The pre-probe: the peer's VIPs are probed in the last window before its death verdict; a takeover
skips IPaddr2's own probe only after a fresh, whole, silent window for every VIP of the group."""
from __future__ import annotations

import threading
import time

from daemon_fakes import group

from hbd.config.model import ResourceNode
from hbd.runtime.preprobe import PreProbe, Target


def vip(text: str) -> ResourceNode:
    return ResourceNode(type="IPaddr2", primary=f"IPaddr2::{text}", attrs=(("args", text),))


ROOTS = {
    "web": ResourceNode(type="group", primary="web", children=(vip("192.0.2.50/24"), vip("192.0.2.51/24"))),
    "db": group("db", "script1"),  # no VIP: never cleared, always probed by IPaddr2 (it has none anyway)
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


def make(answers: dict[str, str | None], window: float = 0.05) -> tuple[PreProbe, FakeProbe]:
    probe = FakeProbe(answers)
    return PreProbe(ROOTS, window_s=window, lead_s=0.01, probe=probe, locate=locate), probe


def settle(pp: PreProbe) -> None:
    deadline = time.monotonic() + 5
    while pp._busy and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not pp._busy


def test_not_due_while_the_peer_is_heard() -> None:
    pp, probe = make({})
    assert not pp.maybe_start(0.1, 1.0, frozenset({"web"}))
    assert not pp.maybe_start(0.95, 1.0, frozenset({"db"}))  # nothing to probe
    assert probe.calls == [] and not pp.clear("web")


def test_silent_vips_clear_the_group() -> None:
    pp, probe = make({})
    assert pp.maybe_start(0.95, 1.0, frozenset({"web", "db"}))
    assert not pp.maybe_start(0.96, 1.0, frozenset({"web"}))  # one round at a time
    settle(pp)
    assert sorted(ip for ip, _ in probe.calls) == ["192.0.2.50", "192.0.2.51"]
    assert pp.clear("web") and not pp.clear("db")


def test_one_answering_vip_keeps_the_probe() -> None:
    pp, _ = make({"192.0.2.51": "02:00:00:00:00:01"})
    pp.maybe_start(0.95, 1.0, frozenset({"web"}))
    settle(pp)
    assert not pp.clear("web")


def test_a_stale_verdict_is_not_used() -> None:
    now = [100.0]
    probe = FakeProbe({})
    pp = PreProbe(ROOTS, window_s=0.0, lead_s=0.0, probe=probe, locate=locate, clock=lambda: now[0])
    pp.maybe_start(1.0, 1.0, frozenset({"web"}))
    settle(pp)
    assert pp.clear("web")
    now[0] += 10
    assert not pp.clear("web")


def test_a_failing_probe_gives_no_verdict_and_is_located_again() -> None:
    located: list[str] = []

    def failing(iface: str, mac: str, ip: str, seconds: float) -> str | None:
        raise OSError("no such device")

    def counting(node: ResourceNode) -> Target:
        located.append(node.primary)
        return locate(node)

    pp = PreProbe(ROOTS, window_s=0.01, lead_s=0.0, probe=failing, locate=counting)
    pp.prepare()
    assert len(located) == 2
    pp.maybe_start(1.0, 1.0, frozenset({"web"}))
    settle(pp)
    assert not pp.clear("web") and pp.targets == {}


def test_the_window_is_a_fraction_of_the_deadtime_and_ends_before_the_verdict() -> None:
    from hbd.runtime.preprobe import timing

    for deadtime in (0.05, 0.1, 0.5, 1.0, 3.0, 30.0):
        t = timing(deadtime)
        assert t.window_s <= max(0.005, deadtime / 5) + 1e-9 and t.window_s <= 0.2
        assert 0 < t.lead_s and t.start_after_s <= deadtime / 2 + 1e-9  # starts after half the deadtime
        assert t.fresh_s >= t.window_s + t.lead_s  # the verdict at the takeover is still fresh
    fast = timing(0.05)
    assert (round(fast.window_s, 6), round(fast.lead_s, 6)) == (0.01, 0.015)
    assert (timing(3.0).window_s, timing(3.0).lead_s) == (0.2, 0.08)  # IPaddr2's own 200 ms


def test_a_round_asked_for_by_the_node_core_probes_the_groups_vips_once_at_a_time() -> None:
    """`ProbeNow` (hbd/core/node.py, which decides when) is carried out by start_round."""
    pp, probe = make({}, window=0.02)
    assert pp.start_round(frozenset({"web", "db"}), 0.02, 0.01)
    assert not pp.start_round(frozenset({"web"}), 0.02, 0.01)  # one round at a time
    assert not pp.start_round(frozenset({"db"}), 0.02, 0.01)  # nothing to probe
    settle(pp)
    assert sorted(ip for ip, _ in probe.calls) == ["192.0.2.50", "192.0.2.51"]
    assert all(seconds == 0.02 for _, seconds in probe.calls)
    assert pp.clear("web")
