"""Service states, edge by edge: each allowed edge is taken by the service core on the event that should
cause it (and emitted as a ServiceTransition); every other edge raises IllegalTransition."""
from __future__ import annotations

import itertools

import pytest

from hbd.core import service_events as e
from hbd.core.service_model import Domain, DomainMember, Recovery, ServiceSpec
from hbd.core.service_states import TRANSITIONS, IllegalTransition, ServiceState, check
from hbd.core.service_table import AdminOp
from service_fakes import Net, catalog

S = ServiceState


def running(spec: ServiceSpec | None = None, nodes: int = 2) -> Net:
    """A formed cluster with service `db` started on n1 (the lowest nodeid: the default placement)."""
    net = Net(catalog(spec or ServiceSpec("db"), nodes=nodes))
    net.form()
    net.start_up("n1", "db")
    return net


def edge(net: Net, node: str, old: ServiceState, new: ServiceState) -> None:
    assert (old, new) in net.transitions(node, "db"), net.transitions(node, "db")
    assert (old, new) in TRANSITIONS


def test_stopped_to_starting_when_the_coordinator_places_it_here_with_go() -> None:
    net = Net(catalog(ServiceSpec("db")))
    net.form()
    edge(net, "n1", S.STOPPED, S.STARTING)
    assert net.state("n2", "db") is S.STOPPED


def test_starting_to_started_when_the_start_succeeds() -> None:
    edge(running(), "n1", S.STARTING, S.STARTED)


def test_stopped_to_disabled_when_autostart_is_off() -> None:
    net = Net(catalog(ServiceSpec("db", autostart=False)))
    net.form()
    edge(net, "n1", S.STOPPED, S.DISABLED)
    edge(net, "n2", S.STOPPED, S.DISABLED)


def test_disabled_to_stopped_on_enable_then_the_start_on_the_placement() -> None:
    net = Net(catalog(ServiceSpec("db", autostart=False)))
    net.form()
    assert net.admin("n2", AdminOp.ENABLE, "db") is None
    edge(net, "n1", S.DISABLED, S.STOPPED)
    edge(net, "n2", S.DISABLED, S.STOPPED)
    net.start_up("n1", "db")


def test_starting_to_recovering_when_the_start_fails() -> None:
    net = Net(catalog(ServiceSpec("db")))
    net.form()
    net.done("n1", "db", e.Op.START, ok=False)
    edge(net, "n1", S.STARTING, S.RECOVERING)
    assert net.pending("n1", e.StopService) == ["db"]


def test_started_to_stopping_and_stopping_to_stopped_on_relocate() -> None:
    net = running()
    assert net.admin("n2", AdminOp.RELOCATE, "db", "n2") is None
    edge(net, "n1", S.STARTED, S.STOPPING)
    assert net.pending("n2", e.StartService) == []  # not before n1's stop is confirmed
    net.done("n1", "db", e.Op.STOP)
    edge(net, "n1", S.STOPPING, S.STOPPED)
    net.start_up("n2", "db")


def test_stopping_to_disabled_on_disable() -> None:
    net = running()
    assert net.admin("n1", AdminOp.DISABLE, "db") is None
    net.done("n1", "db", e.Op.STOP)
    edge(net, "n1", S.STOPPING, S.DISABLED)


def test_stopping_to_failed_when_the_stop_fails_and_failed_to_stopping_on_disable() -> None:
    net = running()
    net.admin("n1", AdminOp.RELOCATE, "db", "n2")
    net.done("n1", "db", e.Op.STOP, ok=False)
    edge(net, "n1", S.STOPPING, S.FAILED)
    assert net.pending("n2", e.StartService) == []  # a failed service may still run: never started elsewhere
    assert net.admin("n2", AdminOp.DISABLE, "db") is None
    edge(net, "n1", S.FAILED, S.STOPPING)


def test_started_to_recovering_and_recovering_to_starting_on_a_failed_check_with_restart() -> None:
    net = running()
    net.feed("n1", e.StatusFailed("db"))
    edge(net, "n1", S.STARTED, S.RECOVERING)
    net.pending("n1", e.StartService)
    net.done("n1", "db", e.Op.STOP)
    edge(net, "n1", S.RECOVERING, S.STARTING)
    assert net.pending("n1", e.StartService) == ["db"]


def test_recovering_to_stopped_when_the_policy_relocates() -> None:
    net = running(ServiceSpec("db", recovery=Recovery.RELOCATE))
    net.feed("n1", e.StatusFailed("db"))
    net.done("n1", "db", e.Op.STOP)
    edge(net, "n1", S.RECOVERING, S.STOPPED)
    net.start_up("n2", "db")
    assert net.pending("n1", e.StartService) == []


def test_recovering_to_disabled_when_the_policy_disables() -> None:
    net = running(ServiceSpec("db", recovery=Recovery.DISABLE))
    net.feed("n1", e.StatusFailed("db"))
    net.done("n1", "db", e.Op.STOP)
    edge(net, "n1", S.RECOVERING, S.DISABLED)
    table = net.cores["n2"].table()
    assert table is not None and not table["db"].enabled and table["db"].disabled_by is not None
    assert net.pending("n2", e.StartService) == []


def test_recovering_to_failed_when_the_recovery_stop_fails() -> None:
    net = running()
    net.feed("n1", e.StatusFailed("db"))
    net.done("n1", "db", e.Op.STOP, ok=False)
    edge(net, "n1", S.RECOVERING, S.FAILED)


def test_started_to_frozen_and_back_on_freeze_and_unfreeze() -> None:
    net = running()
    net.admin("n2", AdminOp.FREEZE, "db")
    edge(net, "n1", S.STARTED, S.FROZEN)
    net.feed("n1", e.StatusFailed("db"))  # frozen: no checks, no recovery
    assert net.state("n1", "db") is S.FROZEN
    net.admin("n2", AdminOp.UNFREEZE, "db")
    edge(net, "n1", S.FROZEN, S.STARTED)


def test_frozen_to_stopping_when_quorum_is_lost() -> None:
    net = running()
    net.admin("n1", AdminOp.FREEZE, "db")
    net.feed("n1", e.QuorumChanged(False))
    edge(net, "n1", S.FROZEN, S.STOPPING)


@pytest.mark.parametrize("old,new", [
    (a, b) for a, b in itertools.product(ServiceState, ServiceState) if (a, b) not in TRANSITIONS])
def test_every_other_edge_is_refused(old: ServiceState, new: ServiceState) -> None:
    with pytest.raises(IllegalTransition):
        check("db", old, new)


def test_the_core_refuses_an_illegal_edge_and_changes_nothing() -> None:
    net = running()
    core = net.cores["n1"]
    with pytest.raises(IllegalTransition):
        core._change("db", S.DISABLED, [])
    assert core.local["db"] is S.STARTED


def test_restricted_domain_member_only() -> None:
    only_n2 = Domain("d", ordered=False, restricted=True, nofailback=False, members=(DomainMember("n2", 0),))
    net = Net(catalog(ServiceSpec("db", domain=only_n2)))
    net.form()
    net.start_up("n2", "db")
    assert net.pending("n1", e.StartService) == []
