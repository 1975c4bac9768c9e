"""The scenario of issue 9 bug 1, shared by its lab test and bench/kill9_then_standby.py: kill -9 of the
active daemon (its VIP keeps answering, so the peer's takeover is refused by the address probe), restart
of the daemon (it keeps the group), then `hbd-standby` on it and `hbd-standby` back.

Each command's report is compared with where the group really runs afterwards: a report is false when it
says done (exit 0) and the group did not move, or says failed and it moved.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from hbd.lab.hbd_cluster import HbdCluster

REFUSED = "CRIT: Giving up resources due to failure of IPaddr2::{vip}/24/eth0 start failed"


@dataclass(frozen=True)
class Move:
    command: str
    node: str
    rc: int
    text: str
    runs_on: tuple[str, ...]  # the nodes where the service runs afterwards
    expected: str  # where the group should be if the command succeeded

    @property
    def moved(self) -> bool:
        return self.runs_on == (self.expected,)

    @property
    def false_report(self) -> bool:
        return (self.rc == 0) != self.moved


@dataclass(frozen=True)
class Outcome:
    refused_takeover: bool  # n2's takeover after the kill -9 failed on the address probe, as it must
    moves: tuple[Move, ...]

    @property
    def false_reports(self) -> int:
        return sum(m.false_report for m in self.moves)


def _runs_on(cluster: HbdCluster) -> tuple[str, ...]:
    return tuple(n for n in ("n1", "n2") if cluster.service_running(n))


def _standby(cluster: HbdCluster, node: str, to: str) -> Move:
    done = cluster.cli(node, ["hbd-standby"], timeout=60)
    # wherever the group went: wait until the target node is stable and sees it running somewhere
    cluster.wait_status(to, lambda st: st["stable"] and cluster.owner(st) is not None, timeout=20)
    return Move("hbd-standby", node, done.returncode, (done.stdout + done.stderr).strip(), _runs_on(cluster), to)


def kill9_then_standby(cluster: HbdCluster, deadtime_s: float) -> Outcome:
    """From a running cluster with n1 holding the group."""
    cluster.kill9("n1")
    marker = REFUSED.format(vip=cluster.settings.vip)
    deadline = time.monotonic() + deadtime_s + 15
    while marker not in cluster.log("n2") and time.monotonic() < deadline:
        time.sleep(0.05)
    refused = marker in cluster.log("n2")
    cluster.start("n1")
    cluster.wait_owner("n1", timeout=15)
    cluster.wait_owner("n1", timeout=10, ask="n2")
    first = _standby(cluster, "n1", "n2")
    back = _standby(cluster, "n2", "n1")
    return Outcome(refused, (first, back))
