"""haresources: resource forms, continuation, comments, node matching, keys, and the group tree."""
from __future__ import annotations

from pathlib import Path

import pytest

from hbd.config.haresources import group_tree, parse_haresources, parse_resource
from hbd.config.model import HaGroup, HaResource, ResourceNode
from hbd.errors import Problems
from heartbeat_files import one_error, texts

SEED = Path(__file__).resolve().parent.parent / "data" / "seed001"
NODES = ("n1", "n2")


def groups_of(tmp_path: Path, text: str, nodes: tuple[str, ...] | None = NODES) -> tuple[tuple[HaGroup, ...] | None, Problems]:
    path = tmp_path / "haresources"
    path.write_text(text)
    problems = Problems()
    return parse_haresources(path, problems, nodes), problems


@pytest.mark.parametrize("token,agent,args", [
    ("httpd", "httpd", ()),
    ("drbddisk::r0", "drbddisk", ("r0",)),
    ("Filesystem::/dev/drbd0::/srv::ext4::noatime", "Filesystem", ("/dev/drbd0", "/srv", "ext4", "noatime")),
    ("192.0.2.10", "IPaddr", ("192.0.2.10",)),
    ("192.0.2.10/24/eth0", "IPaddr", ("192.0.2.10/24/eth0",)),
    ("IPaddr2::192.0.2.10/24/eth0:0", "IPaddr2", ("192.0.2.10/24/eth0:0",)),
    ("mysqld-max", "mysqld-max", ()),
])
def test_resource_forms(token: str, agent: str, args: tuple[str, ...]) -> None:
    assert parse_resource(token) == HaResource(agent, args, token)


@pytest.mark.parametrize("token", ["::r0", "../../bin/sh::x", "a/b", "."])
def test_bad_resource_names(token: str) -> None:
    with pytest.raises(ValueError):
        parse_resource(token)


def test_seed001_group_order() -> None:
    for haresources, node in (("haresources", "l0"), ("haresources.l1", "l1")):
        problems = Problems()
        groups = parse_haresources(SEED / haresources, problems, ("l0", "l1"))
        assert groups is not None and problems.items == []
        (group,) = groups
        assert group.node == node and group.number == 1 and group.line == 1
        assert [r.agent for r in group.resources] == ["IPaddr2", "drbddisk", "Filesystem", "mysqld-max", "linkserv", "mon"]
        assert group.key == "IPaddr2::192.168.1.100/24/eth1:0"
        assert group.resources[2].args == ("/dev/drbd0", "/mnt/drbd", "ext3")


def test_continuation_comments_and_numbering(tmp_path: Path) -> None:
    groups, problems = groups_of(tmp_path, "# header\nN1 192.0.2.10 \\\n   drbddisk::r0 # the disk\\\n\n"
                                           "\n  n2   httpd   # web\n#n1 gone\nn1 \\\n\tmailto::root\n")
    assert groups is not None, problems.items
    assert [(g.number, g.node, g.line, g.key) for g in groups] == [
        (1, "n1", 2, "192.0.2.10"), (2, "n2", 6, "httpd"), (3, "n1", 8, "mailto::root")]
    assert [r.text for r in groups[0].resources] == ["192.0.2.10", "drbddisk::r0"]


def test_unknown_node(tmp_path: Path) -> None:
    groups, problems = groups_of(tmp_path, "n1 a\ncarol b\n")
    error = one_error(problems.items)
    assert groups is None and error.line == 2 and "Bad nodename in haresources [carol]" in error.text


def test_nodes_not_checked_when_unknown(tmp_path: Path) -> None:
    groups, _ = groups_of(tmp_path, "carol b\n", nodes=None)
    assert groups is not None and groups[0].node == "carol"


def test_duplicate_key(tmp_path: Path) -> None:
    groups, problems = groups_of(tmp_path, "n1 192.0.2.10 httpd\nn2 192.0.2.10 mysql\n")
    error = one_error(problems.items)
    assert groups is None and error.line == 2 and "duplicate group key '192.0.2.10' (first used on line 1)" in error.text


def test_empty_group(tmp_path: Path) -> None:
    groups, problems = groups_of(tmp_path, "n1 httpd\nn2 # nothing\n")
    error = one_error(problems.items)
    assert groups is None and error.line == 2 and "no resources" in error.text


def test_key_inside_another_group_warns(tmp_path: Path) -> None:
    groups, problems = groups_of(tmp_path, "n1 httpd\nn2 mysql httpd\n")
    assert groups is not None
    assert [p.line for p in problems.items if "may confuse" in p.text] == [2]


def test_empty_file_warns(tmp_path: Path) -> None:
    groups, problems = groups_of(tmp_path, "# nothing\n")
    assert groups == () and texts(problems.items, "warning")


def test_group_tree() -> None:
    group = HaGroup(1, "n1", (parse_resource("192.0.2.10"), parse_resource("drbddisk::r0")), "haresources", 3)
    assert group_tree(group) == ResourceNode(
        type="group", primary="192.0.2.10", line=3,
        children=(ResourceNode(type="IPaddr", primary="192.0.2.10", attrs=(("args", "192.0.2.10"),)),
                  ResourceNode(type="drbddisk", primary="drbddisk::r0", attrs=(("args", "r0"),))))

