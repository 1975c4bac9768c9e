"""Issue 12's service scenarios on the pure cores (the lab shows the same with real daemons): three nodes and
an ordered domain n1 > n2 > n3 through power-offs and a boot, with and without nofailback; a partition
{n1} | {n2, n3}; a two-node relocate and back."""
from __future__ import annotations

from hbd.core import service_events as e
from hbd.core.service_model import Domain, DomainMember, ServiceSpec
from hbd.core.service_node import ServiceNode
from hbd.core.service_states import ServiceState
from hbd.core.service_table import AdminOp
from service_fakes import GRACE, Net, catalog

S = ServiceState


def ordered_cluster(nofailback: bool = False) -> Net:
    domain = Domain("d", True, False, nofailback, (DomainMember("n1", 1), DomainMember("n2", 2), DomainMember("n3", 3)))
    net = Net(catalog(ServiceSpec("database", domain=domain), nodes=3))
    net.form()
    net.start_up("n1", "database")
    return net


def power_off(net: Net, node: str) -> None:
    net.cut.add(node)
    net.now += 10
    alive = set(net.cores) - net.cut
    net.form(alive, quorate=2 * len(alive) > len(net.cores))
    net.now += GRACE  # the grace of the node that left (no fencing configured)
    for n in sorted(alive):
        net.feed(n, e.Tick())


def boot(net: Net, node: str) -> None:
    net.cores[node] = ServiceNode(node, net.catalog, GRACE)
    net.actions[node] = []
    net.cut.discard(node)
    net.form(set(net.cores) - net.cut)


def running_on(net: Net) -> list[str]:
    return [n for n in sorted(net.cores) if n not in net.cut and net.state(n, "database").held]


def test_power_off_n1_moves_it_to_n2_then_n3_alone_is_inquorate_and_booting_n1_brings_it_back_to_n1() -> None:
    net = ordered_cluster()
    power_off(net, "n1")
    net.start_up("n2", "database")
    power_off(net, "n2")
    assert running_on(net) == []  # n3 alone has no quorum (1 vote of 3): nothing runs
    boot(net, "n1")
    net.now += GRACE
    for n in ("n1", "n3"):
        net.feed(n, e.Tick())
    net.start_up("n1", "database")  # n1 + n3 are quorate; n1 is the best member up
    assert running_on(net) == ["n1"]


def test_with_two_votes_left_it_fails_over_to_n3_and_back_to_n1_when_it_boots() -> None:
    domain = Domain("d", True, False, False, (DomainMember("n1", 1), DomainMember("n2", 2), DomainMember("n3", 3)))
    net = Net(catalog(ServiceSpec("database", domain=domain), nodes=5))  # n4, n5 keep the quorum
    net.form()
    net.start_up("n1", "database")
    power_off(net, "n1")
    net.start_up("n2", "database")
    power_off(net, "n2")
    net.start_up("n3", "database")
    boot(net, "n1")
    assert net.state("n3", "database") is S.STOPPING  # failback to the better member that joined
    net.done("n3", "database", e.Op.STOP)
    net.start_up("n1", "database")
    assert running_on(net) == ["n1"]


def test_nofailback_stays_where_it_runs_when_n1_boots() -> None:
    net = ordered_cluster(nofailback=True)
    power_off(net, "n1")
    net.start_up("n2", "database")
    boot(net, "n1")
    assert running_on(net) == ["n2"]
    assert net.pending("n1", e.StartService) == []


def test_partition_n1_against_n2_n3_only_the_quorate_side_runs_it() -> None:
    net = ordered_cluster()
    net.cut = {"n1"}
    net.now += 10
    net.feed("n1", e.MembersChanged(frozenset({"n1"})))
    net.feed("n1", e.QuorumChanged(False))
    assert net.state("n1", "database") is S.STOPPING  # the minority stops it at once
    net.done("n1", "database", e.Op.STOP)
    net.form({"n2", "n3"})
    assert net.pending("n2", e.StartService) == []  # not before n1's grace has passed
    net.now += GRACE
    for n in ("n2", "n3"):
        net.feed(n, e.Tick())
    net.start_up("n2", "database")
    assert net.admin("n1", AdminOp.ENABLE, "database") is not None  # no quorum: refused


def test_two_nodes_relocate_to_n1_and_back_stops_before_it_starts() -> None:
    net = Net(catalog(ServiceSpec("database"), nodes=2))
    net.form()
    net.start_up("n1", "database")
    assert net.admin("n1", AdminOp.RELOCATE, "database", "n2") is None
    assert net.pending("n2", e.StartService) == []
    net.done("n1", "database", e.Op.STOP)
    net.start_up("n2", "database")
    assert net.admin("n2", AdminOp.RELOCATE, "database", "n1") is None
    net.done("n2", "database", e.Op.STOP)
    net.start_up("n1", "database")
    table = net.cores["n2"].table()
    assert table is not None and (table["database"].owner, table["database"].last_owner) == ("n1", "n2")
    assert table["database"].shown == ("n1", "started")
    net.admin("n2", AdminOp.DISABLE, "database")
    net.done("n1", "database", e.Op.STOP)
    table = net.cores["n2"].table()
    assert table is not None and table["database"].shown == ("(n1)", "disabled")
    net.admin("n2", AdminOp.FREEZE, "database")
    table = net.cores["n1"].table()
    assert table is not None and table["database"].shown == ("(n1)", "disabled [Z]")
