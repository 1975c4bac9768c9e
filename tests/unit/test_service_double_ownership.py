"""A healed two_node partition on the pure service cores: each side was quorate alone, so both ran the
service; after the heal exactly one keeps it (the coordinator's placement), the other stops it; both say
DoubleOwnership once, naming the keeper, and the keeper alone asks to announce its addresses again, only
once the other's stop has finished."""
from __future__ import annotations

import pytest

from hbd.core import service_events as e
from hbd.core.service_model import Domain, DomainMember, ServiceSpec
from hbd.core.service_states import ServiceState
from hbd.core.service_table import AdminOp
from service_fakes import GRACE, Net, catalog

S = ServiceState


def partitioned(preferred: str | None) -> Net:
    domain = None if preferred is None else Domain(
        "d", True, False, False, tuple(DomainMember(n, 1 if n == preferred else 2) for n in ("n1", "n2")))
    net = Net(catalog(ServiceSpec("database", domain=domain)))
    net.form()
    first = next(n for n in ("n1", "n2") if "database" in net.pending(n, e.StartService))
    net.done(first, "database", e.Op.START)
    second = "n2" if first == "n1" else "n1"
    net.cut = {"n1", "n2"}  # both media cut: every message dropped
    for node in ("n1", "n2"):
        net.form({node})  # two_node: one vote is quorate
    net.now += GRACE
    for node in ("n1", "n2"):
        net.feed(node, e.Tick())
    net.start_up(second, "database")  # the documented risk without fencing
    assert net.state(first, "database") is S.STARTED
    net.cut = set()
    for node in ("n1", "n2"):
        net.actions[node] = []
    return net


def of(net: Net, node: str, kind: type) -> list[e.Action]:
    return [a for a in net.actions[node] if isinstance(a, kind)]


@pytest.mark.parametrize("preferred", [None, "n1", "n2"])
def test_after_the_heal_one_keeps_it_and_announces_again_after_the_other_stopped(preferred: str | None) -> None:
    net = partitioned(preferred)
    net.form()
    keepers = [n for n in ("n1", "n2") if net.state(n, "database") is S.STARTED]
    assert len(keepers) == 1, {n: net.state(n, "database") for n in ("n1", "n2")}
    keeper = keepers[0]
    loser = "n2" if keeper == "n1" else "n1"
    if preferred is not None:
        assert keeper == preferred  # the failover domain's order decides
    assert net.state(loser, "database") is S.STOPPING and net.pending(loser, e.StopService) == ["database"]
    for node in ("n1", "n2"):
        assert of(net, node, e.DoubleOwnership) == [e.DoubleOwnership("database", keeper, frozenset({"n1", "n2"}))]
    assert of(net, keeper, e.Reannounce) == []  # not while the other still has the address
    net.done(loser, "database", e.Op.STOP)
    assert of(net, keeper, e.Reannounce) == [e.Reannounce("database")]
    assert of(net, loser, e.Reannounce) == [] and net.state(keeper, "database") is S.STARTED
    assert len(of(net, keeper, e.DoubleOwnership)) == 1  # said once


def test_a_normal_relocation_is_no_double_ownership() -> None:
    net = Net(catalog(ServiceSpec("database")))
    net.form()
    net.start_up("n1", "database")
    assert net.admin("n1", AdminOp.RELOCATE, "database", "n2") is None
    net.done("n1", "database", e.Op.STOP)
    net.start_up("n2", "database")
    assert all(not of(net, n, e.DoubleOwnership) and not of(net, n, e.Reannounce) for n in ("n1", "n2"))


def test_the_node_that_stops_runs_the_double_ownership_alert() -> None:
    from hbd.runtime.alerts import Alert, AlertRunner

    for me, expected in (("n2", 1), ("n1", 0)):
        runner = AlertRunner([], 10, me, "n1" if me == "n2" else "n2")
        seen: list[Alert] = []
        runner.emit = seen.append  # type: ignore[method-assign]
        runner.service(e.DoubleOwnership("database", "n1", frozenset({"n1", "n2"})))
        runner.service(e.Reannounce("database"))
        assert len(seen) == expected
        if expected:
            assert (seen[0].kind, seen[0].event, seen[0].group, seen[0].rc) == (
                "split_brain", "double_ownership", "database", 1)
            assert seen[0].desc == "n1 holds database too and keeps it: stopping it here"
