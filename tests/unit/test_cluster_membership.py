"""Membership and quorum settings from cluster.conf (hbd/config/clustermembership.py): the same HaCf and AuthKeys
the ha.cf path produces, errors with file and line."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from hbd.config.clusterconf import parse_xml
from hbd.config.clustermembership import CMAN_TOKEN_MS, ClusterMembership, load_cluster_membership
from hbd.core.membership import MembershipConfig
from hbd.errors import Problems

ADDRESSES = {"n1": "192.0.2.11", "n2": "192.0.2.12", "n3": "192.0.2.13"}
NODES = """  <clusternodes>
    <clusternode name="n1" nodeid="1" votes="1"/>
    <clusternode name="n2" nodeid="2"/>
    <clusternode name="n3" nodeid="3" votes="2"/>
  </clusternodes>"""


def write(tmp_path: Path, head: str = "", nodes: str = NODES, key: bool = True) -> Path:
    conf = tmp_path / "cluster.conf"
    conf.write_text(f'<?xml version="1.0"?>\n<cluster name="c" config_version="1">\n{head}\n{nodes}\n</cluster>\n')
    if key:
        keys = tmp_path / "authkeys"
        keys.write_text("auth 1\n1 sha256 s3cret\n")
        os.chmod(keys, 0o600)
    return conf


def load(conf: Path, node: str = "n1", interfaces: object = lambda a: "eth9") -> tuple[ClusterMembership | None,
                                                                                        Problems]:
    problems = Problems()
    root = parse_xml(conf, problems)
    found = load_cluster_membership(root, conf, node, problems, resolve=ADDRESSES.get,
                                    interfaces=interfaces)  # type: ignore[arg-type]
    return found, problems


def texts(problems: Problems) -> list[str]:
    return [str(p) for p in problems.items]


def test_unicast_to_every_peer_with_cmans_default_token(tmp_path: Path) -> None:
    found, problems = load(write(tmp_path))
    assert found is not None, texts(problems)
    hacf = found.hacf
    assert hacf.nodes == ("n1", "n2", "n3") and hacf.local_node == "n1" and hacf.peers == ("n2", "n3")
    assert [(m.kind, m.interface, m.address, m.port) for m in hacf.media] == [
        ("ucast", "eth9", "192.0.2.12", 694), ("ucast", "eth9", "192.0.2.13", 694)]
    assert hacf.timing.deadtime_ms == CMAN_TOKEN_MS == 10000 and hacf.timing.keepalive_ms == 1000
    assert found.authkeys.signing_key.method == "sha256" and not found.unauthenticated
    assert dict(found.quorum.votes) == {"n1": 1, "n2": 1, "n3": 2} and found.quorum.expected_votes == 4
    # the membership core takes it as it takes ha.cf's
    assert MembershipConfig.from_hacf(hacf).nodes == ("n1", "n2", "n3")


def test_totem_token_is_the_dead_time(tmp_path: Path) -> None:
    found, problems = load(write(tmp_path, '<totem token="3000"/>'))
    assert found is not None, texts(problems)
    assert (found.hacf.timing.deadtime_ms, found.hacf.timing.keepalive_ms, found.hacf.timing.warntime_ms) == (
        3000, 300, 1500)


def test_a_token_too_small_is_an_error_with_its_line(tmp_path: Path) -> None:
    found, problems = load(write(tmp_path, '<totem token="150"/>'))
    assert found is None
    assert any(":3: error: <totem token=\"150\">" in t for t in texts(problems)), texts(problems)


def test_a_token_that_is_no_number_is_an_error(tmp_path: Path) -> None:
    found, problems = load(write(tmp_path, '<totem token="ten"/>'))
    assert found is None and any("not a positive whole number" in t for t in texts(problems))


def test_multicast_address_from_cman(tmp_path: Path) -> None:
    found, problems = load(write(tmp_path, '<cman port="5405"><multicast addr="239.192.1.2" ttl="2"/></cman>'))
    assert found is not None, texts(problems)
    assert [(m.kind, m.address, m.port, m.ttl) for m in found.hacf.media] == [("mcast", "239.192.1.2", 5405, 2)]


def test_a_multicast_address_that_is_not_one_is_an_error(tmp_path: Path) -> None:
    found, problems = load(write(tmp_path, '<cman><multicast addr="192.0.2.1"/></cman>'))
    assert found is None and any(":3: error: <multicast addr=\"192.0.2.1\">" in t for t in texts(problems))


def test_no_key_file_is_refused_and_the_message_says_how_to_proceed(tmp_path: Path) -> None:
    found, problems = load(write(tmp_path, key=False))
    assert found is None
    [text] = texts(problems)
    assert "no key file" in text and "keyfile=" in text and 'secauth="off"' in text


def test_secauth_off_asks_for_unauthenticated_heartbeats_and_warns(tmp_path: Path) -> None:
    found, problems = load(write(tmp_path, '<totem secauth="off"/>', key=False))
    assert found is not None and found.unauthenticated and found.authkeys.signing_key.method == "crc"
    assert any("warning" in t and "not authenticated" in t for t in texts(problems))


def test_cman_keyfile_names_the_key(tmp_path: Path) -> None:
    other = tmp_path / "hb.key"
    other.write_text("auth 2\n2 sha1 abc\n")
    os.chmod(other, 0o600)
    found, problems = load(write(tmp_path, f'<cman keyfile="{other}"/>', key=False))
    assert found is not None, texts(problems)
    assert found.authkeys.path == str(other) and found.authkeys.active == 2


def test_a_missing_named_key_file_is_an_error_on_the_cman_line(tmp_path: Path) -> None:
    found, problems = load(write(tmp_path, '<cman keyfile="/nonexistent/key"/>', key=False))
    assert found is None and any(":3: error: no key file /nonexistent/key" in t for t in texts(problems))


def test_a_node_name_that_resolves_to_nothing_is_an_error_with_its_line(tmp_path: Path) -> None:
    nodes = NODES.replace('name="n3"', 'name="nowhere"')
    found, problems = load(write(tmp_path, nodes=nodes))
    assert found is None and any(":7: error: node nowhere: the name resolves to no IPv4 address" in t
                                 for t in texts(problems)), texts(problems)


def test_this_node_not_in_clusternodes_is_an_error(tmp_path: Path) -> None:
    found, problems = load(write(tmp_path), node="n7")
    assert found is None and any("this node (n7) is not a <clusternode>" in t for t in texts(problems))


def test_a_domain_name_matches_the_short_name(tmp_path: Path) -> None:
    found, _ = load(write(tmp_path), node="n2.example.org")
    assert found is not None and found.hacf.local_node == "n2"


def test_the_local_address_on_no_interface_is_an_error(tmp_path: Path) -> None:
    found, problems = load(write(tmp_path), interfaces=lambda a: None)
    assert found is None and any("192.0.2.11 (n1) is on no interface" in t for t in texts(problems))


def test_two_node_with_three_nodes_is_an_error(tmp_path: Path) -> None:
    found, problems = load(write(tmp_path, '<cman two_node="1" expected_votes="1"/>'))
    assert found is None and any(":3: error: two_node=\"1\" needs exactly two nodes" in t for t in texts(problems))


TWO = """  <clusternodes>
    <clusternode name="n1" nodeid="1"/>
    <clusternode name="n2" nodeid="2"/>
  </clusternodes>"""


def test_two_node_without_fencing_is_a_warning(tmp_path: Path) -> None:
    found, problems = load(write(tmp_path, '<cman two_node="1" expected_votes="1"/>', nodes=TWO))
    assert found is not None and found.quorum.two_node
    assert any(":3: warning: two_node=\"1\" without fencing" in t for t in texts(problems))


def test_expected_votes_out_of_reach_is_a_warning(tmp_path: Path) -> None:
    found, problems = load(write(tmp_path, '<cman expected_votes="9"/>'))
    assert found is not None
    assert any("never quorate" in t for t in texts(problems)), texts(problems)


def test_expected_votes_below_a_majority_is_a_warning(tmp_path: Path) -> None:
    found, problems = load(write(tmp_path, '<cman expected_votes="1"/>'))
    assert found is not None
    assert any("two partitions can each be quorate" in t for t in texts(problems)), texts(problems)


def test_not_on_the_node_no_media_are_built_but_the_rest_is_checked(tmp_path: Path) -> None:
    found, problems = load(write(tmp_path), interfaces=None)
    assert found is not None and found.hacf.media == ()


HACF = "keepalive 2\ndeadtime 20\n{nodes}\nbcast eth7\n"


@pytest.mark.parametrize("token", ["", '<totem token="3000"/>'])
def test_ha_cf_beside_cluster_conf_sets_media_and_timing(tmp_path: Path, token: str) -> None:
    conf = write(tmp_path, token)
    (tmp_path / "ha.cf").write_text(HACF.format(nodes="node n1 n2 n3"))
    found, problems = load(conf)
    assert found is not None, texts(problems)
    assert [(m.kind, m.interface) for m in found.hacf.media] == [("bcast", "eth7")]
    assert found.hacf.timing.deadtime_ms == 20000 and found.hacf.timing.keepalive_ms == 2000
    overridden = [t for t in texts(problems) if "overrides cluster.conf's <totem token" in t]
    assert len(overridden) == (1 if token else 0)


def test_ha_cf_beside_with_other_nodes_is_an_error(tmp_path: Path) -> None:
    conf = write(tmp_path)
    (tmp_path / "ha.cf").write_text(HACF.format(nodes="node n1 n2"))
    found, problems = load(conf)
    assert found is None and any("ha.cf:3: error: ha.cf names nodes n1, n2" in t for t in texts(problems)), \
        texts(problems)
