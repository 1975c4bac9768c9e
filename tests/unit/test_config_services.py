"""cluster.conf `<rm>` -> the services' Catalog (hbd/config/services.py): values, defaults, errors by line."""
from __future__ import annotations

from pathlib import Path

import pytest

from hbd.config.clusterconf import load_cluster_conf
from hbd.core.service_model import Catalog, DependMode, Recovery
from hbd.errors import Problems

SEED = Path(__file__).resolve().parents[1] / "data" / "cluster" / "seed-004.conf"

HEAD = """<?xml version="1.0"?>
<cluster name="c" config_version="1">
  <clusternodes>
    <clusternode name="n1" nodeid="1"/>
    <clusternode name="n2" nodeid="2" votes="2"/>
    <clusternode name="n3" nodeid="3"/>
  </clusternodes>
  <rm>
"""
TAIL = """  </rm>
</cluster>
"""


def load(tmp_path: Path, rm: str) -> tuple[Catalog, Problems]:
    path = tmp_path / "cluster.conf"
    path.write_text(HEAD + rm + TAIL)
    problems = Problems()
    conf = load_cluster_conf(path, problems)
    assert conf.catalog is not None
    return conf.catalog, problems


def errors(problems: Problems) -> list[tuple[int | None, str]]:
    return [(p.line, p.text) for p in problems.items if p.severity == "error"]


def test_the_seed_gives_one_relocating_service_on_two_nodes() -> None:
    problems = Problems()
    catalog = load_cluster_conf(SEED, problems).catalog
    assert catalog is not None
    assert [n.name for n in catalog.nodes] == ["node0", "node1"]
    assert [s.name for s in catalog.services] == ["database"]  # dbnode and dbms are resources of database
    assert catalog.services[0].recovery is Recovery.RELOCATE
    assert catalog.services[0].autostart


def test_every_service_attribute_and_domain_is_read(tmp_path: Path) -> None:
    catalog, problems = load(tmp_path, """
    <failoverdomains>
      <failoverdomain name="d" ordered="1" restricted="1" nofailback="1">
        <failoverdomainnode name="n3" priority="1"/>
        <failoverdomainnode name="n1" priority="2"/>
      </failoverdomain>
    </failoverdomains>
    <service name="db" domain="d" autostart="0" recovery="restart-disable" max_restarts="3"
             restart_expire_time="10m" exclusive="1" __enforce_timeouts="1">
      <script name="app" file="/etc/init.d/app" __independent_subtree="1" __max_restarts="2"
              __restart_expire_time="60"/>
      <ip address="192.0.2.10" __independent_subtree="non-critical"/>
    </service>
    <service name="web" depend="service:db" depend_mode="soft"/>
""")
    assert errors(problems) == []
    db, web = catalog.services
    assert (db.autostart, db.recovery, db.max_restarts, db.restart_expire_ms, db.exclusive, db.enforce_timeouts) == \
        (False, Recovery.RESTART_DISABLE, 3, 600_000, True, True)
    assert db.domain is not None and db.domain.ordered and db.domain.restricted and db.domain.nofailback
    assert [(m.node, m.priority) for m in db.domain.members] == [("n3", 1), ("n1", 2)]
    assert [(t.ident, t.max_restarts, t.restart_expire_ms, t.non_critical) for t in db.independent] == \
        [("script:app", 2, 60_000, False), ("ip:192.0.2.10", 0, 0, True)]
    assert (web.depend, web.depend_mode, web.domain) == ("db", DependMode.SOFT, None)
    assert catalog.node("n2") is not None and catalog.node("n2").votes == 2  # type: ignore[union-attr]
    assert catalog.coordinator(frozenset({"n2", "n3"})) == "n2"


@pytest.mark.parametrize("attrs,wanted", [
    ('recovery="reboot"', "recovery must be one of restart, relocate, disable, restart-disable, not 'reboot'"),
    ('autostart="maybe"', "autostart must be 0 or 1 (or yes/no), not 'maybe'"),
    ('max_restarts="-1"', "max_restarts must be a whole number 0 or more, not '-1'"),
    ('restart_expire_time="soon"', "restart_expire_time must be a time like 30, 30s, 10m or 1h, not 'soon'"),
    ('depend="db"', "depend must be service:NAME, not 'db'"),
    ('depend="service:nosuch"', "depend names service nosuch, which is not defined"),
    ('depend="service:s"', "depend names the service itself"),
    ('depend_mode="weak"', "depend_mode must be one of hard, soft, not 'weak'"),
])
def test_a_bad_value_is_an_error_naming_the_line(tmp_path: Path, attrs: str, wanted: str) -> None:
    _, problems = load(tmp_path, f'    <service name="s" {attrs}/>\n')
    assert errors(problems) == [(9, f"service s: {wanted}")]


def test_a_dependency_cycle_is_an_error(tmp_path: Path) -> None:
    _, problems = load(tmp_path, '    <service name="a" depend="service:b"/>\n    <service name="b" depend="service:a"/>\n')
    assert [text for _, text in errors(problems)] == [
        "service a: depend forms a cycle through a", "service b: depend forms a cycle through b"]


def test_a_bad_independent_subtree_value_names_the_element(tmp_path: Path) -> None:
    _, problems = load(tmp_path, '    <service name="s">\n      <ip address="192.0.2.1" __independent_subtree="3"/>\n'
                                 '    </service>\n')
    assert errors(problems) == [(10, "service s, <ip>: __independent_subtree must be 0, 1, 2, yes, no or "
                                     "non-critical, not '3'")]


def test_a_priority_outside_1_to_100_is_a_warning(tmp_path: Path) -> None:
    catalog, problems = load(tmp_path, """    <failoverdomains>
      <failoverdomain name="d" ordered="1">
        <failoverdomainnode name="n1" priority="200"/>
      </failoverdomain>
    </failoverdomains>
    <service name="s" domain="d"/>
""")
    assert errors(problems) == []
    assert [p.text for p in problems.warnings] == [
        "failover domain d: priority 200 of n1 is outside 1..100: it counts as unprioritised"]
    domain = catalog.services[0].domain
    assert domain is not None and domain.rank("n1") == 101  # after every prioritised member, before non-members
