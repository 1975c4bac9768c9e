"""cluster.conf loader: rule table, schema, resource list, inheritance, defaults, flags and the problems it records."""
from __future__ import annotations

from pathlib import Path

import pytest

from hbd.config import load
from hbd.config.clusterconf import ClusterConf, load_cluster_conf
from hbd.config.clusterrng import generate_rng
from hbd.config.clusterschema import RNG_PATH
from hbd.config.rules import builtin_rules, expand_time
from hbd.errors import ConfigError, Problems

BROKEN = Path(__file__).resolve().parent.parent / "data" / "broken"
CC_CASES = sorted(BROKEN.glob("cc-*"))
HEAD = """<?xml version="1.0"?>
<cluster name="c" config_version="1">
  <clusternodes>
    <clusternode name="n1" nodeid="1"/>
    <clusternode name="n2" nodeid="2"/>
  </clusternodes>
  <rm>
"""


def conf_of(tmp_path: Path, rm_body: str) -> tuple[ClusterConf, Problems]:
    path = tmp_path / "cluster.conf"
    path.write_text(HEAD + rm_body + "  </rm>\n</cluster>\n")
    problems = Problems()
    return load_cluster_conf(path, problems), problems


def test_rule_table_has_the_seed_agents_and_order() -> None:
    rules = builtin_rules()
    assert len(rules) == 23
    assert list(rules) == sorted(rules, key=str.lower)
    seed_order = ["name", "autostart", "hardrecovery", "exclusive", "nfslock", "nfs_client_cache", "recovery",
                  "depend_mode", "max_restarts", "restart_expire_time", "priority"]
    assert [p.name for p in rules["service"].params if p.default is not None or p.primary] == seed_order
    assert [(c.type, c.start, c.stop) for c in rules["service"].children][-2:] == [("smb", 8, 3), ("script", 9, 1)]
    assert {t for t, r in rules.items() if r.maxinstances == 1} == {
        "service", "ip", "fs", "lvm", "drbd", "nfsserver", "vm", "oracledb"}
    assert [a.interval for a in rules["fs"].actions if a.name == "status"] == [60, 30, 60]
    assert rules["ip"].param("nfslock").inherit == "service%nfslock"  # type: ignore[union-attr]


def test_child_types_name_known_rules_with_both_levels_or_none() -> None:
    rules = builtin_rules()
    for rule in rules.values():
        for child in rule.children:
            assert child.type in rules, (rule.type, child.type)
            assert bool(child.start) == bool(child.stop), (rule.type, child)  # else it would never stop/start
            assert not (child.forbid and child.start), (rule.type, child)
        assert sum(p.primary for p in rule.params) == 1, rule.type
        assert not any(p.inherit and (p.primary or p.unique or p.required) for p in rule.params), rule.type


def test_expand_time() -> None:
    assert [expand_time(t) for t in ("30", "30s", "1m", "1h", "2d")] == [30, 30, 60, 3600, 172800]
    with pytest.raises(ValueError):
        expand_time("soon")


def test_committed_schema_is_the_generated_one() -> None:
    assert RNG_PATH.read_text() == generate_rng(), "run: python -m hbd.config.clusterrng > hbd/config/cluster.rng"


@pytest.mark.parametrize("case", CC_CASES, ids=[c.name for c in CC_CASES])
def test_broken_cluster_conf_gives_one_error_with_its_line(case: Path) -> None:
    expect = dict(line.split(": ", 1) for line in (case / "expect").read_text().splitlines() if ": " in line)
    with pytest.raises(ConfigError) as info:
        load(case)
    errors = info.value.errors
    assert len(errors) == 1, errors
    assert errors[0].file == str(case / "cluster.conf")
    assert errors[0].line == int(expect["line"])
    assert expect["message"] in errors[0].text


def test_broken_corpus_has_at_least_twelve_cluster_conf_cases() -> None:
    assert len(CC_CASES) >= 12


def test_every_rg_test_error_line_is_also_a_problem(tmp_path: Path) -> None:
    conf, problems = conf_of(tmp_path, """    <service name="dup">
      <script name="first" file="/etc/init.d/app"/>
      <script name="second" file="/etc/init.d/app"/>
      <script ref="ghost"/>
    </service>
""")
    assert conf.messages == (
        "Error: Unique attribute collision. type=script attr=file value=/etc/init.d/app",
        "Error storing script resource",
        "Error: Reference to nonexistent resource ghost (type script)",
    )
    assert [(p.severity, p.line) for p in problems.items] == [("error", 10), ("error", 11)]


def test_inheritance_both_styles_and_null(tmp_path: Path) -> None:
    conf, problems = conf_of(tmp_path, """    <service name="s" nfslock="1">
      <fs name="f" device="/dev/sda1" mountpoint="/srv">
        <nfsexport name="e">
          <nfsclient name="c" target="*"/>
        </nfsexport>
      </fs>
      <script name="x" file="/etc/init.d/x">
        <fs name="g" device="/dev/sda2" mountpoint="/g"/>
      </script>
    </service>
""")
    assert problems.items == []
    fs, script = conf.roots[0].children
    export = fs.children[0]
    client = export.children[0]
    assert fs.attr("nfslock") == "1"  # old style: the immediate parent (a service) has nfslock
    assert export.attr("path") == "/srv" and export.attr("device") == "/dev/sda1"
    assert client.attr("path") == "/srv" and client.attr("svcname") == "s" and client.attr("use_cache") == "0"
    assert ("nfslock", None) in script.children[0].attrs  # the parent script has no nfslock: "(null)"
    assert script.attr("service_name") == "s"


def test_explicit_value_turns_inheritance_off(tmp_path: Path) -> None:
    conf, _ = conf_of(tmp_path, """    <service name="s">
      <script name="x" file="/etc/init.d/x" service_name="other"/>
    </service>
""")
    assert conf.roots[0].children[0].attr("service_name") == "other"
    script = next(r for r in conf.resources if r.type == "script")
    assert script.attr("service_name").inherited is False  # type: ignore[union-attr]


def test_resource_defaults_replace_rule_defaults(tmp_path: Path) -> None:
    conf, problems = conf_of(tmp_path, """    <resource-defaults>
      <fs force_unmount="1" fstype="ext4"/>
      <ip monitor_link="0"/>
    </resource-defaults>
    <service name="s">
      <ip address="192.0.2.1"/>
      <fs name="f" device="/dev/sda1" mountpoint="/srv" fstype="xfs"/>
    </service>
""")
    assert problems.items == []
    assert conf.messages == ("setting default for fs attr force_unmount to 1", "setting default for fs attr fstype to ext4",
                             "changing default for ip attr monitor_link from 1 to 0")
    fs = next(c for c in conf.roots[0].children if c.type == "fs")
    ip = next(c for c in conf.roots[0].children if c.type == "ip")
    assert fs.attr("force_unmount") == "1" and fs.attr("fstype") == "xfs" and ip.attr("monitor_link") == "0"


def test_resource_list_order_and_flags(tmp_path: Path) -> None:
    conf, _ = conf_of(tmp_path, """    <resources>
      <script name="b" file="/b"/>
      <ip address="192.0.2.1"/>
      <script name="a" file="/a"/>
    </resources>
    <service name="s">
      <ip ref="192.0.2.1"/>
      <script ref="a"/>
      <script name="inl" file="/inl"/>
    </service>
""")
    assert [(r.type, r.primary, sorted(r.flags), r.refs) for r in conf.resources] == [
        ("ip", "192.0.2.1", [], 1), ("script", "b", [], 0), ("script", "a", [], 1),
        ("service", "s", ["INLINE"], 1), ("script", "inl", ["INLINE"], 1)]


def test_node_options_become_flags(tmp_path: Path) -> None:
    conf, problems = conf_of(tmp_path, """    <service name="s" __independent_subtree="1" __enforce_timeouts="yes">
      <script name="a" file="/a" __independent_subtree="1"/>
      <script name="b" file="/b" __independent_subtree="non-critical"/>
      <script name="c" file="/c" __independent_subtree="0"/>
    </service>
""")
    assert problems.items == []
    root = conf.roots[0]
    assert root.flags == {"ENFORCE-TIMEOUTS"}  # independence is ignored on a top-level service
    assert [set(c.flags) for c in root.children] == [{"INDEPENDENT"}, {"INDEPENDENT", "NON-CRITICAL"}, set()]


def test_missing_primary_quirks_are_copied_but_rejected(tmp_path: Path) -> None:
    conf, problems = conf_of(tmp_path, """    <service name="q">
      <ip address="192.0.2.1"/>
      <ip monitor_link="0"/>
      <ip address="192.0.2.3"/>
      <apache name="a1"/>
      <mysql config_file="/etc/my.cnf"/>
      <postgres-8 name="p1"/>
    </service>
""")
    assert [c.ident for c in conf.roots[0].children] == ["ip:192.0.2.1", "apache:a1"]
    assert conf.messages == ("No resource found @ /cluster/rm/child::*[1]/child::*[5]",)
    assert [(p.line, p.text) for p in problems.items if p.severity == "error"] == [
        (10, "<ip> needs attribute 'address'"), (13, "<mysql> needs attribute 'name'")]


def test_unknown_elements_are_dropped_with_their_subtree(tmp_path: Path) -> None:
    conf, problems = conf_of(tmp_path, """    <service name="u">
      <frobnicator name="x"><script name="lost" file="/lost"/></frobnicator>
      <script name="kept" file="/kept"/>
    </service>
""")
    assert [c.ident for c in conf.roots[0].children] == ["script:kept"]
    assert all(r.primary != "lost" for r in conf.resources)
    assert problems.has_errors


def test_nodes_domains_and_cluster_attributes(tmp_path: Path) -> None:
    conf, problems = conf_of(tmp_path, """    <failoverdomains>
      <failoverdomain name="d" ordered="1" restricted="0" nofailback="1">
        <failoverdomainnode name="n2" priority="1"/>
        <failoverdomainnode name="n1" priority="2"/>
      </failoverdomain>
    </failoverdomains>
    <service name="s" domain="d"/>
""")
    assert problems.items == []
    assert conf.name == "c" and conf.config_version == 1
    assert [(n.name, n.nodeid, n.votes) for n in conf.nodes] == [("n1", 1, 1), ("n2", 2, 1)]
    (dom,) = conf.domains
    assert (dom.name, dom.ordered, dom.restricted, dom.nofailback) == ("d", True, False, True)
    assert [(m.name, m.priority) for m in dom.nodes] == [("n2", 1), ("n1", 2)]
    assert conf.root("service", "s") is conf.roots[0]


def test_comments_and_processing_instructions_are_ignored(tmp_path: Path) -> None:
    conf, problems = conf_of(tmp_path, """    <!-- a comment -->
    <?pi data?>
    <service name="s"><!-- inside --><script name="a" file="/a"/></service>
""")
    assert problems.items == [] and [c.ident for c in conf.roots[0].children] == ["script:a"]


def test_unreadable_path_is_one_problem(tmp_path: Path) -> None:
    problems = Problems()
    with pytest.raises(ConfigError):
        load_cluster_conf(tmp_path, problems)  # a directory
    assert len(problems.items) == 1 and problems.items[0].line is None


def test_entities_are_not_expanded(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret")
    path = tmp_path / "cluster.conf"
    path.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE cluster [<!ENTITY x SYSTEM "file://{secret}">]>\n'
                    + HEAD.split("\n", 1)[1] + '    <service name="&x;"/>\n  </rm>\n</cluster>\n')
    problems = Problems()
    try:
        conf = load_cluster_conf(path, problems)
    except ConfigError:
        return  # refusing the file is as good as not reading the entity
    assert all("s3cret" not in r.primary for r in conf.roots)
    assert "s3cret" not in repr(conf)


def test_action_overrides_change_the_resource_actions(tmp_path: Path) -> None:
    conf, problems = conf_of(tmp_path, """    <resources>
      <ip address="192.0.2.1">
        <action name="status" depth="0" interval="10"/>
        <action name="start" timeout="1m"/>
        <action name="status" depth="20" interval="5m" timeout="30"/>
      </ip>
    </resources>
    <service name="s"><ip ref="192.0.2.1"/></service>
""")
    assert problems.items == []
    ip = conf.resource("ip", "192.0.2.1")
    assert ip is not None
    status = [(a.depth, a.interval, a.timeout) for a in ip.actions if a.name == "status"]
    assert status == [(0, 10, 10), (10, 60, 20), (20, 300, 30)]
    assert [a.timeout for a in ip.actions if a.name == "start"] == [60]
    assert conf.notes == ("Replacing action 'status' depth 0: interval: 20->10",
                          "Replacing action 'start' depth 0: timeout: 20->60 ")
    script = conf.resource("service", "s")
    assert script is not None and script.actions == builtin_rules()["service"].actions


def test_bad_action_values_are_errors(tmp_path: Path) -> None:
    _, problems = conf_of(tmp_path, """    <service name="s">
      <action name="status" interval="soon"/>
    </service>
""")
    assert [(p.line, p.severity) for p in problems.items] == [(9, "error")]


SCHEMA_CASES = sorted((BROKEN.parent / "cluster" / "tv").glob("*.conf")) + [BROKEN.parent / "cluster" / "seed-004.conf"]
WALKER_CASES = ["cc-unknown-element", "cc-unknown-attribute", "cc-missing-name", "cc-resource-at-top",
                "cc-attribute-on-ref", "cc-bad-nodeid", "cc-missing-clusternodes"]


@pytest.mark.parametrize("path", SCHEMA_CASES, ids=[p.name for p in SCHEMA_CASES])
def test_relax_ng_schema_accepts_the_valid_vectors_only(path: Path) -> None:
    from lxml import etree

    from hbd.config.clusterschema import relaxng

    valid = relaxng().validate(etree.parse(str(path)))
    assert valid == (path.name not in ("tv13.conf", "tv14.conf")), relaxng().error_log


@pytest.mark.parametrize("name", WALKER_CASES)
def test_relax_ng_schema_rejects_what_the_clear_checks_reject(name: str) -> None:
    from lxml import etree

    from hbd.config.clusterschema import relaxng

    assert not relaxng().validate(etree.parse(str(BROKEN / name / "cluster.conf")))
