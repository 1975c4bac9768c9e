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
