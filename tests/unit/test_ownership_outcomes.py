"""The ownership core tells the operator what really happened, and remembers failures only while they mean
something (issue 9): standby/takeover replies match the groups' real moves, a failure record clears when
the group runs fine, a group found partly running is completed, the keeper re-announces its addresses after
double ownership, and groups the two nodes define differently are never started or moved."""
from __future__ import annotations

from test_ownership import Pair, partition_and_heal

from hbd.core import agreement
from hbd.core.holdings import GroupInfo, Topology
from hbd.core.ownership import Ownership
from hbd.core.ownership_types import (
    AdminRequest, Announce, CommUp, GroupStarted, PeerDied, PeerJoined, Policy, Probed, Received, StartGroup,
)


def _kill9_then_restart(p: Pair) -> None:
    """n1's daemon is killed (g1 keeps running there); n2's takeover fails on the address still in use;
    the restarted n1 finds g1 running and keeps it."""
    p.boot_both()
    p.fail_start.add(("n2", "g1"))  # IPaddr2: "192.0.2.50 is already in use by ..."
    p.kill("n1")
    p.feed("n2", PeerDied("n1"))
    p.run()
    assert "g1" in p.cores["n2"].start_failed and p.held("n2") == ["g2"]
    p.fail_start.clear()
    p.up["n1"] = True
    p.cores["n1"] = Ownership("n1", "n2", p.cores["n2"].topology, p.policy)
    p.feed("n1", Probed(frozenset({"g1"})))
    p.feed("n2", PeerJoined("n1"))
    p.feed("n1", CommUp(True))
    p.run()
    assert p.held("n1") == ["g1"] and p.held("n2") == ["g2"]


def test_a_failure_record_clears_once_the_peer_runs_the_group_and_standby_then_moves_it() -> None:
    """Bug 1: the stale "failed to start on both nodes" record made n2 refuse the planned move, and n1
    still answered "handover complete"."""
    p = Pair()
    _kill9_then_restart(p)
    assert p.cores["n2"].start_failed == {} and p.cores["n2"].handoff == set()
    p.feed("n1", AdminRequest("standby", "local", 7))
    p.run()
    assert p.held("n1") == [] and p.held("n2") == ["g1", "g2"]
    assert [(r.ok, r.text) for r in p.replies("n1")] == [(True, "handover complete")]
    assert not any("failed to start on both nodes" in line for line in p.logs["n2"])


def test_standby_reports_failure_when_the_taker_does_not_start_the_group() -> None:
    p = Pair()
    p.boot_both()
    p.fail_start.add(("n2", "g1"))
    p.feed("n1", AdminRequest("standby", "local", 7))
    p.run()
    [reply] = p.replies("n1")
    assert not reply.ok and "n2 did not start g1" in reply.text and "g1 started here again" in reply.text
    assert p.held("n1") == ["g1"]  # its own group: back where it was


def test_takeover_reports_failure_for_a_group_it_asked_for_that_runs_nowhere() -> None:
    p = Pair()
    p.fail_start.update({("n1", "g2"), ("n2", "g2")})
    p.boot_both()
    assert "g2" not in p.held("n1") + p.held("n2")
    p.fail_start.clear()
    p.feed("n1", AdminRequest("takeover", "foreign", 3))
    p.run()
    [reply] = p.replies("n1")
    assert not reply.ok and "n2 holds none of the foreign groups" in reply.text, reply.text


def test_a_start_that_succeeds_on_retry_is_not_handed_back_with_auto_failback_off() -> None:
    """Bug 2: the failed first attempt stayed in `handoff`, so the returning peer got the group (an outage)."""
    p = Pair(policy=Policy(auto_failback="off", failed_retry_ms=30_000))
    p.boot_both()
    p.fail_start.add(("n2", "g1"))
    p.kill("n1")
    p.feed("n2", PeerDied("n1"))
    p.run()
    assert p.held("n2") == ["g2"]
    p.fail_start.clear()
    p.advance(30_001)
    assert p.held("n2") == ["g1", "g2"]
    p.up["n1"] = True
    p.cores["n1"] = Ownership("n1", "n2", p.cores["n2"].topology, p.policy)
    p.feed("n1", Probed(frozenset()))
    p.feed("n2", PeerJoined("n1"))
    p.feed("n1", CommUp(True))
    p.run()
    assert p.held("n2") == ["g1", "g2"] and p.held("n1") == []
    assert p.stopped["n2"] == []


def test_takeover_failback_takes_this_nodes_own_group_back_from_the_peer() -> None:
    """Bug 3: `failback` was resolved as this node's foreign groups: "already held here", nothing moved."""
    p = Pair(groups=(("g1", "n1"),), policy=Policy(auto_failback="off"))
    p.boot_both()
    p.feed("n1", AdminRequest("standby", "all", 1))
    p.run()
    assert p.held("n2") == ["g1"]
    p.feed("n1", AdminRequest("takeover", "failback", 2))
    p.run()
    assert p.held("n1") == ["g1"] and p.held("n2") == []
    assert [(r.ok, r.text) for r in p.replies("n1")][-1] == (True, "handover complete")


def test_takeover_of_a_set_with_no_groups_says_so_and_fails() -> None:
    p = Pair(groups=(("g1", "n1"),))
    p.boot_both()
    p.feed("n1", AdminRequest("takeover", "foreign", 4))
    p.run()
    [reply] = p.replies("n1")
    assert not reply.ok and reply.text.startswith("no foreign groups are configured for n1"), reply.text
    p.feed("n1", AdminRequest("takeover", "local", 5))
    p.run()
    assert p.replies("n1")[-1].ok and "already held here: g1" in p.replies("n1")[-1].text


def test_a_group_found_partly_running_is_held_then_completed_once_safe() -> None:
    """Bug 4: a partly running group was adopted as running and the rest never started."""
    p = Pair()
    p.feed("n1", Probed(frozenset(), partial=frozenset({"g1"})))
    p.feed("n2", Probed(frozenset()))
    assert p.cores["n1"].view().groups["g1"].value == "partial" and p.held("n1") == ["g1"]
    p.feed("n1", CommUp(True))
    p.feed("n2", CommUp(True))
    p.run()
    assert p.held("n1") == ["g1"] and p.held("n2") == ["g2"]
    assert p.started["n1"] == ["g1"] and "g1" not in p.started["n2"]
    assert p.cores["n1"].view().groups["g1"].value == "running"


def test_a_partly_running_group_the_peer_runs_is_released_not_completed() -> None:
    p = Pair()
    p.boot_both()
    p.cores["n2"] = Ownership("n2", "n1", p.cores["n1"].topology, p.policy)
    p.feed("n1", PeerJoined("n2"))
    p.feed("n2", Probed(frozenset(), partial=frozenset({"g1"})))  # leftovers of n1's group on n2
    p.feed("n2", CommUp(True))
    p.run()
    assert p.held("n1") == ["g1"] and p.held("n2") == ["g2"]
    assert p.stopped["n2"] == ["g1"] and p.started["n1"] == ["g1"]


def _report(core: Ownership, groups: str, seq: int) -> Received:
    return Received(core.peer, {"t": "resource", "rtype": "full", "isstable": "1", "rsc_hold": "all",
                                "hbd_groups": groups, "hbdver": "1", "seq": f"{seq:x}"})


def test_the_keeper_announces_its_addresses_once_the_peer_let_go_after_a_partition() -> None:
    """Bug 5: after the heal nobody re-announced the VIP; clients kept the releasing node's MAC."""
    p = Pair()
    p.boot_both()
    core = p.cores["n1"]
    core.handle(PeerDied("n2"), 100)
    core.handle(GroupStarted("g2", True), 200)
    assert p.held("n1") == ["g1", "g2"]
    announced = [a for a in core.handle(PeerJoined("n2", after_partition=True), 300) if isinstance(a, Announce)]
    assert announced == []  # the peer may still hold them: announcing now could be undone by its traffic
    first = core.handle(_report(core, "g1 g2", 10_000), 400)
    assert Announce("g2") not in first and Announce("g1") not in first
    second = core.handle(_report(core, "g2", 10_001), 500)
    assert [a for a in second if isinstance(a, Announce)] == [Announce("g1")]
    third = core.handle(_report(core, "g2", 10_002), 600)
    assert not [a for a in third if isinstance(a, Announce)]  # once


def test_after_a_partition_heal_each_keeper_announces_what_it_kept() -> None:
    p = Pair()
    partition_and_heal(p)
    assert p.held("n1") == ["g1"] and p.held("n2") == ["g2"]
    assert [a for a in p.other_actions["n1"] if isinstance(a, Announce)] == [Announce("g1")]
    assert [a for a in p.other_actions["n2"] if isinstance(a, Announce)] == [Announce("g2")]


def _topology(preferred: str, resources: str = "IPaddr2::192.0.2.50/24 svc") -> Topology:
    return Topology((GroupInfo("g1", preferred, f"{preferred} {resources}"),
                     GroupInfo("g2", "n2", "n2 IPaddr2::192.0.2.60/24")))


def test_groups_defined_differently_are_started_by_neither_node() -> None:
    """Bug 7: with haresources naming itself on each node, both started the group (VIP on both nodes)."""
    p = Pair()
    p.cores = {"n1": Ownership("n1", "n2", _topology("n1")), "n2": Ownership("n2", "n1", _topology("n2"))}
    p.boot_both()
    assert p.held("n1") == [] and p.held("n2") == ["g2"]
    assert "g1" not in p.started["n1"] + p.started["n2"]
    for node, peer in (("n1", "n2"), ("n2", "n1")):
        assert any(line.startswith("CRIT: Resource configuration (haresources) differs between")
                   and f"defined differently on {peer}: g1" in line for line in p.logs[node]), p.logs[node]
    p.feed("n2", AdminRequest("takeover", "all", 9))
    p.run()
    assert not p.replies("n2")[-1].ok and "resource configuration of g1 differs" in p.replies("n2")[-1].text


def test_a_group_defined_differently_is_not_taken_over_from_a_dead_peer() -> None:
    p = Pair()
    p.cores = {"n1": Ownership("n1", "n2", _topology("n1")),
               "n2": Ownership("n2", "n1", _topology("n1", "IPaddr2::192.0.2.50/24 svc extra"))}
    p.feed("n1", Probed(frozenset({"g1"})))  # n1 runs it already (started alone, before n2 came)
    p.feed("n2", Probed(frozenset()))
    p.feed("n1", CommUp(True))
    p.feed("n2", CommUp(True))
    p.run()
    assert p.held("n1") == ["g1"] and p.held("n2") == ["g2"]  # what runs stays where it runs
    p.kill("n1")
    p.feed("n2", PeerDied("n1"))
    p.run()
    assert p.held("n2") == ["g2"] and "g1" not in p.started["n2"]
    assert any("Not taking over g1 from n1: its resource configuration differs" in line for line in p.logs["n2"])


def test_alike_definitions_agree_and_the_digest_names_no_resource() -> None:
    topo = _topology("n1")
    value = agreement.encode(topo)
    assert value is not None and "192.0.2.50" not in value
    assert not agreement.compare(topo, value)
    assert agreement.compare(topo, None) is None
    only = agreement.compare(topo, value.split()[0])
    assert only is not None and only.only_here == frozenset({"g2"})
    p = Pair()
    p.cores = {"n1": Ownership("n1", "n2", _topology("n1")), "n2": Ownership("n2", "n1", _topology("n1"))}
    p.boot_both()
    assert p.held("n1") == ["g1"] and p.held("n2") == ["g2"]
    assert any(agreement.FIELD in m for m in p.sent["n1"])


def test_a_start_action_is_only_issued_for_groups_both_nodes_define_alike() -> None:
    core = Ownership("n1", "n2", _topology("n1"))
    core.handle(Probed(frozenset()), 0)
    core.handle(CommUp(True), 0)
    digest = agreement.encode(_topology("n2"))
    assert digest is not None
    actions = core.handle(Received("n2", {"t": "starting", "hbd_groups": "", "hbdver": "1",
                                          agreement.FIELD: digest, "seq": "1"}), 10)
    actions += core.handle(_report(core, "", 2), 20)
    assert not [a for a in actions if isinstance(a, StartGroup)]
