"""Fixture and helpers of the daemon's lab tests: two hbd nodes with a VIP group, watched for invariants.

`running_cluster(settings)` yields (cluster, watcher, probe): both daemons started, n1 running the group,
the invariant watcher (VIP on one node only) and a VIP probe from the client running. On exit the daemons
are stopped, the lab is removed and checked for leftovers, and the watcher's verdict is checked.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from hbd.lab import Lab
from hbd.lab.cleanup import traces
from hbd.lab.hbd_cluster import ClusterSettings, HbdCluster
from hbd.lab.probes import VipProbe
from hbd.lab.watch import InvariantWatcher

FAST = ClusterSettings(keepalive_ms=200, deadtime_ms=1000, initdead_ms=2000)


@contextlib.contextmanager
def lab_cluster(settings: ClusterSettings = FAST) -> Iterator[HbdCluster]:
    """A lab with the configuration written and no daemon started."""
    lab = Lab.up(nodes=2, media=2)
    cluster = HbdCluster(lab, settings)
    try:
        cluster.write_config()
        yield cluster
    finally:
        cluster.close()
        lab.down()
        left = traces(lab.name)
        assert not left, f"lab {lab.name} left traces: {left}"


@contextlib.contextmanager
def watched(cluster: HbdCluster, probe_interval: float = 0.02) -> Iterator[tuple[InvariantWatcher, VipProbe]]:
    watcher = InvariantWatcher(cluster.lab, vip=cluster.settings.vip, drbd=None, interval=0.02).start()
    probe = VipProbe(cluster.lab, cluster.settings.vip, interval=probe_interval).start()
    try:
        yield watcher, probe
    finally:
        probe.stop()
        watcher.stop()
    watcher.check()
    assert watcher.polls > 10, "the invariant watcher did not run"


@contextlib.contextmanager
def running_cluster(settings: ClusterSettings = FAST) -> Iterator[tuple[HbdCluster, InvariantWatcher, VipProbe]]:
    with lab_cluster(settings) as cluster:
        cluster.start("n1")
        cluster.start("n2")
        cluster.wait_owner(settings.preferred, timeout=20)
        cluster.wait_owner(settings.preferred, timeout=10, ask="n2")
        with watched(cluster) as (watcher, probe):
            assert probe.wait_for(settings.preferred, 5), probe.transitions
            cluster.wait_configured_deadtime("n2", "n1")
            cluster.wait_configured_deadtime("n1", "n2")
            yield cluster, watcher, probe


def longest_outage(probe: VipProbe) -> float:
    spans = probe.outages()
    assert all(end is not None for _, end in spans), f"the VIP is still not answering: {spans}"
    return max((end - begin for begin, end in spans if end is not None), default=0.0)


def group_state(status: dict, key: str) -> str:
    return next(g["state"] for g in status["groups"] if g["key"] == key)


def wait_until(predicate: Callable[[], object], timeout: float, what: str,
               log: Callable[[str], str] | None = None, nodes: tuple[str, ...] = ("n1", "n2")) -> float:
    """Wait for `predicate` at most `timeout` s (polled every 50 ms); returns the time it took. On timeout the
    AssertionError names `what` and, with `log` (a cluster's log or stderr reader), each node's last lines."""
    begin = time.monotonic()
    while not predicate():
        if time.monotonic() - begin > timeout:
            tails = "".join(f"\n--- {n}:\n{log(n)[-6000:]}" for n in nodes) if log else ""
            raise AssertionError(f"not within {timeout} s: {what}{tails}")
        time.sleep(0.05)
    return time.monotonic() - begin
