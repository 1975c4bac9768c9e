"""Failover domains, exclusive and depend on N nodes, admin requests and their typed refusals, and the
coordinator's announcements (service_placement.py, service_admin.py, service_coordinator.py)."""
from __future__ import annotations

from hbd.core import service_events as e
from hbd.core.ownership_types import Log
from hbd.core.service_model import DependMode, Domain, DomainMember, ServiceSpec
from hbd.core.service_placement import Loads, choose
from hbd.core.service_states import ServiceState
from hbd.core.service_table import AdminOp, Refusal
from service_fakes import Net, catalog

S = ServiceState
NONE = Loads({}, frozenset())
ALL3 = frozenset({"n1", "n2", "n3"})


def ordered(*nodes: str, restricted: bool = False, nofailback: bool = False) -> Domain:
    return Domain("d", True, restricted, nofailback, tuple(DomainMember(n, i + 1) for i, n in enumerate(nodes)))


def pick(spec: ServiceSpec, members: frozenset[str] = ALL3, current: str | None = None,
         joined: frozenset[str] = frozenset(), loads: Loads = NONE) -> str | None:
    return choose(spec, catalog(spec, nodes=3), members, current, joined, frozenset(), loads)


def test_ordered_domain_takes_the_best_priority_member_online() -> None:
    spec = ServiceSpec("db", domain=ordered("n3", "n2", "n1"))
    assert pick(spec) == "n3"
    assert pick(spec, frozenset({"n1", "n2"})) == "n2"
    assert pick(spec, frozenset({"n1"})) == "n1"


def test_ordered_domain_fails_back_when_a_better_member_joins() -> None:
    spec = ServiceSpec("db", domain=ordered("n1", "n2", "n3"))
    assert pick(spec, current="n2", joined=frozenset({"n1"})) == "n1"
    assert pick(spec, current="n2") == "n2"  # no join: it stays (an admin relocation is not undone)


def test_nofailback_stays_where_it_runs() -> None:
    spec = ServiceSpec("db", domain=ordered("n1", "n2", "n3", nofailback=True))
    assert pick(spec, current="n2", joined=frozenset({"n1"})) == "n2"


def test_restricted_domain_never_places_outside_and_none_when_no_member_is_up() -> None:
    spec = ServiceSpec("db", domain=ordered("n2", restricted=True))
    assert pick(spec) == "n2"
    assert pick(spec, frozenset({"n1", "n3"})) is None


def test_unrestricted_domain_prefers_members_then_any_node() -> None:
    spec = ServiceSpec("db", domain=ordered("n3"))
    assert pick(spec) == "n3"
    assert pick(spec, frozenset({"n1", "n2"})) == "n1"


def test_unordered_domain_spreads_to_the_least_loaded_member_then_lowest_nodeid() -> None:
    spec = ServiceSpec("db", domain=Domain("u", False, True, False, (DomainMember("n2", 0), DomainMember("n3", 0))))
    assert pick(spec) == "n2"
    assert pick(spec, loads=Loads({"n2": 1}, frozenset())) == "n3"


def test_exclusive_only_on_an_empty_node_and_nothing_beside_it() -> None:
    exclusive = ServiceSpec("x", exclusive=True)
    assert pick(exclusive, loads=Loads({"n1": 1, "n2": 1}, frozenset())) == "n3"
    assert pick(exclusive, loads=Loads({"n1": 1, "n2": 1, "n3": 2}, frozenset())) is None
    assert pick(ServiceSpec("y"), loads=Loads({"n1": 1}, frozenset({"n1"}))) == "n2"


def test_unordered_services_spread_over_the_cluster() -> None:
    dom = Domain("u", False, False, False, tuple(DomainMember(f"n{i}", 0) for i in (1, 2, 3)))
    net = Net(catalog(*(ServiceSpec(f"s{i}", domain=dom) for i in range(3)), nodes=3))
    net.form()
    assert sorted(s for n in ("n1", "n2", "n3") for s in net.pending(n, e.StartService)) == ["s0", "s1", "s2"]
    assert all(len([s for s, st in net.cores[n].local.items() if st is S.STARTING]) == 1 for n in net.cores)


def test_hard_dependency_starts_after_and_stops_with_what_it_needs() -> None:
    net = Net(catalog(ServiceSpec("db"), ServiceSpec("app", depend="db"), nodes=2))
    net.form()
    assert net.pending("n1", e.StartService) == ["db"]
    assert "app" not in net.pending("n2", e.StartService)
    net.done("n1", "db", e.Op.START)
    started = net.pending("n1", e.StartService) + net.pending("n2", e.StartService)
    assert started == ["app"]
    owner = next(n for n in net.cores if net.state(n, "app") is S.STARTING)
    net.done(owner, "app", e.Op.START)
    net.admin("n1", AdminOp.DISABLE, "db")
    assert net.state(owner, "app") is S.STOPPING


def test_soft_dependency_keeps_running_when_what_it_needs_stops() -> None:
    net = Net(catalog(ServiceSpec("db"), ServiceSpec("app", depend="db", depend_mode=DependMode.SOFT)))
    net.form()
    net.done("n1", "db", e.Op.START)
    owner = next(n for n in net.cores if net.state(n, "app") is S.STARTING)
    net.done(owner, "app", e.Op.START)
    net.admin("n1", AdminOp.DISABLE, "db")
    assert net.state(owner, "app") is S.STARTED


def test_admin_refusals_are_typed_and_change_nothing() -> None:
    spec = ServiceSpec("db", domain=ordered("n1", "n2", restricted=True))
    net = Net(catalog(spec, nodes=3))
    net.form({"n1", "n2"})
    net.start_up("n1", "db")
    assert net.admin("n2", AdminOp.RELOCATE, "nosuch") is Refusal.NO_SUCH_SERVICE
    assert net.admin("n2", AdminOp.RELOCATE, "db", "n3") is Refusal.TARGET_DOWN
    assert net.admin("n2", AdminOp.RELOCATE, "db", "n9") is Refusal.NO_SUCH_NODE
    assert net.admin("n2", AdminOp.FREEZE, "db") is None
    assert net.admin("n2", AdminOp.RELOCATE, "db", "n2") is Refusal.FROZEN
    assert net.admin("n2", AdminOp.RESTART, "db") is Refusal.FROZEN
    net.admin("n2", AdminOp.UNFREEZE, "db")
    net.form({"n1", "n2", "n3"})
    assert net.admin("n3", AdminOp.RELOCATE, "db", "n3") is Refusal.OUTSIDE_RESTRICTED_DOMAIN
    assert net.state("n1", "db") is S.STARTED
    assert net.admin("n1", AdminOp.RESTART, "db") is None
    assert net.state("n1", "db") is S.STOPPING  # restart: stop, then start again in place


def test_no_request_without_quorum() -> None:
    net = Net(catalog(ServiceSpec("db")))
    net.form({"n2"}, quorate=False)
    assert net.admin("n2", AdminOp.ENABLE, "db") is Refusal.NOT_QUORATE


def test_relocate_without_target_goes_to_the_next_node_or_is_refused() -> None:
    net = running_on_n1(nodes=2)
    assert net.admin("n2", AdminOp.RELOCATE, "db") is None
    assert net.state("n1", "db") is S.STOPPING
    net.done("n1", "db", e.Op.STOP)
    net.start_up("n2", "db")
    net1 = Net(catalog(ServiceSpec("db"), nodes=1))
    net1.form()
    net1.start_up("n1", "db")
    assert net1.admin("n1", AdminOp.RELOCATE, "db") is Refusal.NO_OTHER_NODE


def running_on_n1(nodes: int) -> Net:
    net = Net(catalog(ServiceSpec("db"), nodes=nodes))
    net.form()
    net.start_up("n1", "db")
    return net


def test_the_coordinator_is_the_lowest_nodeid_and_follows_membership() -> None:
    net = running_on_n1(nodes=3)
    assert [n for n, c in net.cores.items() if c.coordinating] == ["n1"]
    net.cut = {"n1"}
    net.now = 10
    net.form({"n2", "n3"})
    assert [n for n, c in net.cores.items() if c.coordinating and n != "n1"] == ["n2"]
    assert net.pending("n2", e.StartService) == []  # n1 may still stop it: wait for its grace (or fencing)
    net.feed("n2", e.NodeFenced("n1"))
    net.feed("n3", e.NodeFenced("n1"))
    assert net.pending("n2", e.StartService) == ["db"]
    table = net.cores["n3"].table()
    assert table is not None and table["db"].last_owner == "n1"


def test_a_departed_owner_is_waited_for_until_its_grace_has_passed() -> None:
    net = running_on_n1(nodes=3)
    net.cut = {"n1"}
    net.now = 10
    net.form({"n2", "n3"})
    assert net.cores["n2"].next_deadline(net.now) == 10 + 1000
    net.now = 1009
    net.feed("n2", e.Tick())
    assert net.pending("n2", e.StartService) == []
    net.now = 1010
    net.feed("n2", e.Tick())
    net.feed("n3", e.Tick())
    assert net.pending("n2", e.StartService) == ["db"]


def test_the_minority_stops_its_services_and_a_failed_stop_there_asks_for_a_reboot() -> None:
    net = running_on_n1(nodes=3)
    net.feed("n1", e.MembersChanged(frozenset({"n1"})))
    net.feed("n1", e.QuorumChanged(False))
    assert net.state("n1", "db") is S.STOPPING
    net.done("n1", "db", e.Op.STOP, ok=False)
    assert any(isinstance(a, e.SelfFence) for a in net.actions["n1"])


def test_an_independent_subtree_restarts_alone_then_the_service_recovers() -> None:
    from hbd.core.service_model import Subtree
    spec = ServiceSpec("db", independent=(Subtree("script:app", 1, 0, False),))
    net = Net(catalog(spec))
    net.form()
    net.start_up("n1", "db")
    out = net.feed("n1", e.StatusFailed("db", "script:app", "script:app", "exit 7"))
    assert [a for a in out if not isinstance(a, Log)] == [e.RestartSubtree("db", "script:app")]
    assert net.state("n1", "db") is S.STARTED
    net.done("n1", "db", e.Op.RESTART_SUBTREE)  # restarted: the subtree's one restart is used
    net.feed("n1", e.StatusFailed("db", "script:app", "script:app", "exit 7"))
    assert net.state("n1", "db") is S.RECOVERING  # past the subtree's budget: the whole service


def test_restart_in_place_up_to_max_restarts_then_relocate() -> None:
    from hbd.core.service_model import Recovery
    net = Net(catalog(ServiceSpec("db", recovery=Recovery.RESTART, max_restarts=1, restart_expire_ms=60_000)))
    net.form()
    net.start_up("n1", "db")
    net.feed("n1", e.StatusFailed("db"))
    net.done("n1", "db", e.Op.STOP)
    net.start_up("n1", "db")  # the first failure: restarted in place
    net.now = 1000
    net.feed("n1", e.StatusFailed("db"))
    net.done("n1", "db", e.Op.STOP)
    assert net.state("n1", "db") is S.STOPPED  # the second within the window: relocated
    net.start_up("n2", "db")
    assert net.cores["n1"].recovery.counts("db", 1000).failures == 2


def test_a_failed_stop_is_tried_again_only_when_the_admin_disables_again() -> None:
    # rgmanager: a service whose stop failed stays `failed` until the admin disables it; each disable is
    # one more attempt. Retrying at once, unasked, would loop for ever on a stop that always fails.
    net = running_on_n1(nodes=2)
    assert net.admin("n2", AdminOp.DISABLE, "db") is None
    assert net.pending("n1", e.StopService) == ["db"]
    net.done("n1", "db", e.Op.STOP, ok=False)
    assert net.state("n1", "db") is S.FAILED
    assert net.pending("n1", e.StopService) == []
    net.feed("n1", e.Tick())
    net.form()  # a new view and announcement change nothing either
    assert net.state("n1", "db") is S.FAILED and net.pending("n1", e.StopService) == []
    assert net.admin("n2", AdminOp.DISABLE, "db") is None  # the admin tries again: one more stop
    assert net.pending("n1", e.StopService) == ["db"]
    net.done("n1", "db", e.Op.STOP)
    assert net.state("n1", "db") is S.DISABLED
