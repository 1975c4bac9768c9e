"""hbd.core.ordering: start/stop/status plans and targeting on hand-built trees (rgmanager.md §1.5, §1.6)."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hbd.config.model import ChildType, ResourceNode
from hbd.config.rules import child_type_table
from hbd.core.ordering import by_ident, find_targets, start_plan, status_plan, stop_plan, targeted_plan

TYPES = child_type_table()


def n(ident: str, *children: ResourceNode) -> ResourceNode:
    rtype, primary = ident.split(":", 1)
    return ResourceNode(type=rtype, primary=primary, children=children)


def idents(steps: tuple) -> list[str]:  # type: ignore[type-arg]
    return [s.node.ident for s in steps]


def test_parent_starts_first_and_stops_last() -> None:
    tree = n("service:s", n("script:a"))
    assert idents(start_plan(tree, TYPES)) == ["service:s", "script:a"]
    assert idents(stop_plan(tree, TYPES)) == ["script:a", "service:s"]
    assert [s.op for s in stop_plan(tree, TYPES)] == ["stop", "stop"]


def test_service_levels_then_untyped_in_document_order() -> None:
    tree = n("service:s", n("mysql:m"), n("script:x"), n("ip:1"), n("apache:a"), n("lvm:l"), n("smb:b"))
    assert idents(start_plan(tree, TYPES)) == [
        "service:s", "lvm:l", "ip:1", "smb:b", "script:x", "mysql:m", "apache:a"]
    # stop: untyped reversed first, then stop levels: script 1, ip 2, smb 3, lvm 9
    assert idents(stop_plan(tree, TYPES)) == [
        "apache:a", "mysql:m", "script:x", "ip:1", "smb:b", "lvm:l", "service:s"]


def test_same_level_types_keep_declaration_order_on_stop_too() -> None:
    # under fs, fs and clusterfs share start 1 / stop 3: fs children go first both ways (not mirrored)
    tree = n("fs:top", n("clusterfs:c1"), n("fs:f1"), n("clusterfs:c2"), n("fs:f2"), n("nfsexport:e"))
    assert idents(start_plan(tree, TYPES)) == ["fs:top", "fs:f1", "fs:f2", "clusterfs:c1", "clusterfs:c2", "nfsexport:e"]
    assert idents(stop_plan(tree, TYPES)) == ["nfsexport:e", "fs:f2", "fs:f1", "clusterfs:c2", "clusterfs:c1", "fs:top"]


def test_type_declared_without_levels_runs_in_the_default_level() -> None:
    tree = n("nfsexport:e", n("script:x"), n("nfsclient:c1"), n("apache:a"), n("nfsclient:c2"))
    # the loader puts declared types first in the child list; ordering keeps list order in the default level
    listed = n("nfsexport:e", n("nfsclient:c1"), n("nfsclient:c2"), n("script:x"), n("apache:a"))
    assert idents(start_plan(tree, TYPES)) == ["nfsexport:e", "script:x", "nfsclient:c1", "apache:a", "nfsclient:c2"]
    assert idents(start_plan(listed, TYPES)) == ["nfsexport:e", "nfsclient:c1", "nfsclient:c2", "script:x", "apache:a"]
    assert idents(stop_plan(listed, TYPES)) == ["apache:a", "script:x", "nfsclient:c2", "nfsclient:c1", "nfsexport:e"]


def test_parent_without_declared_types_keeps_list_order() -> None:
    tree = n("script:outer", n("ip:1"), n("fs:f"), n("lvm:l"))
    assert idents(start_plan(tree, TYPES)) == ["script:outer", "ip:1", "fs:f", "lvm:l"]
    assert idents(stop_plan(tree, TYPES)) == ["lvm:l", "fs:f", "ip:1", "script:outer"]


def test_haresources_group_starts_left_to_right_and_stops_right_to_left() -> None:
    group = n("group:IPaddr2::192.0.2.10/24/eth1", n("IPaddr2:IPaddr2::192.0.2.10/24/eth1"),
              n("drbddisk:drbddisk::r0"), n("Filesystem:Filesystem::/dev/drbd0::/mnt::ext3"), n("mysqld:mysqld"))
    assert idents(start_plan(group, TYPES))[1:] == [c.ident for c in group.children]
    assert idents(stop_plan(group, TYPES))[:-1] == [c.ident for c in reversed(group.children)]


def test_custom_child_table_is_honoured() -> None:
    types = {"p": (ChildType("b", 1, 2), ChildType("a", 2, 1))}
    tree = n("p:x", n("a:1"), n("b:1"), n("c:1"))
    assert idents(start_plan(tree, types)) == ["p:x", "b:1", "a:1", "c:1"]
    assert idents(stop_plan(tree, types)) == ["c:1", "a:1", "b:1", "p:x"]


def test_status_follows_start_order() -> None:
    tree = n("service:s", n("script:x"), n("ip:1"))
    steps = status_plan(tree, TYPES)
    assert idents(steps) == idents(start_plan(tree, TYPES))
    assert {s.op for s in steps} == {"status"}


def test_paths_address_the_nodes() -> None:
    tree = n("service:s", n("script:x"), n("fs:f", n("nfsexport:e")))
    for step in start_plan(tree, TYPES):
        node = tree
        for i in step.path:
            node = node.children[i]
        assert node is step.node
        assert step.depth == len(step.path)


def test_targeting_finds_every_occurrence_in_traversal_order() -> None:
    one = n("service:one", n("script:httpd"), n("ip:1"))
    two = n("service:two", n("fs:f", n("script:httpd")))
    steps = targeted_plan("start", (one, two), by_ident("script", "httpd"), TYPES)
    assert idents(steps) == ["script:httpd", "script:httpd"]
    assert [s.path for s in steps] == [(0, 0), (1, 0, 0)]


def test_targeting_a_nested_service_runs_only_its_subtree() -> None:
    inner = n("service:inner", n("ip:1"))
    outer = n("service:outer", n("script:x"), inner)
    assert idents(targeted_plan("stop", (outer,), by_ident("service", "inner"), TYPES)) == ["ip:1", "service:inner"]
    assert find_targets((outer,), by_ident("service", "nosuch")) == ()


def test_ten_thousand_children_plan_in_order() -> None:
    kids = tuple(n(f"script:s{i}") for i in range(10000))
    steps = stop_plan(ResourceNode("service", "big", children=kids), TYPES)
    assert len(steps) == 10001
    assert steps[0].node.primary == "s9999" and steps[-2].node.primary == "s0"


TYPE_NAMES = ["service", "fs", "clusterfs", "nfsexport", "nfsclient", "ip", "script", "lvm", "apache", "drbd", "group"]


def _trees() -> st.SearchStrategy[ResourceNode]:
    counter = iter(range(10**9))
    leaf = st.builds(lambda t: ResourceNode(t, f"r{next(counter)}"), st.sampled_from(TYPE_NAMES))
    return st.recursive(leaf, lambda kids: st.builds(
        lambda t, cs: ResourceNode(t, f"r{next(counter)}", children=tuple(cs)),
        st.sampled_from(TYPE_NAMES), st.lists(kids, max_size=5)), max_leaves=40)


@settings(max_examples=200, deadline=None)
@given(_trees())
def test_plans_visit_every_node_once_parents_around_children(tree: ResourceNode) -> None:
    start, stop = start_plan(tree, TYPES), stop_plan(tree, TYPES)
    assert sorted(s.path for s in start) == sorted(s.path for s in stop)
    assert len({s.path for s in start}) == len(start)
    started = {s.path: i for i, s in enumerate(start)}
    stopped = {s.path: i for i, s in enumerate(stop)}
    for path in started:
        if path:
            assert started[path[:-1]] < started[path]  # parent starts first
            assert stopped[path[:-1]] > stopped[path]  # parent stops last


@settings(max_examples=200, deadline=None)
@given(_trees())
def test_untyped_parents_stop_in_exact_reverse(tree: ResourceNode) -> None:
    untyped = {t: () for t in TYPE_NAMES}  # no parent declares child types: every level is list order
    assert [s.path for s in stop_plan(tree, untyped)] == [s.path for s in reversed(start_plan(tree, untyped))]
