"""hbd.config.clusterdelta: which resources and tree nodes a cluster.conf change stops, starts or reconfigures."""
from __future__ import annotations

from pathlib import Path

from hbd.config.clusterconf import ClusterConf, load_cluster_conf
from hbd.config.clusterdelta import resource_delta
from hbd.errors import Problems

HEAD = '<?xml version="1.0"?>\n<cluster name="c" config_version="1"><clusternodes/><rm>\n'


def conf(tmp_path: Path, name: str, body: str) -> ClusterConf:
    path = tmp_path / name
    path.write_text(HEAD + body + "</rm></cluster>\n")
    return load_cluster_conf(path, Problems())


def flags(items: tuple) -> dict[str, set[str]]:  # type: ignore[type-arg]
    return {f"{i.type}:{i.primary}": set(i.flags) for i in items}


def test_reconfig_only_change_is_not_a_restart(tmp_path: Path) -> None:
    old = conf(tmp_path, "a", '<service name="s" recovery="restart"><script name="x" file="/x"/></service>')
    new = conf(tmp_path, "b", '<service name="s" recovery="relocate"><script name="x" file="/x"/></service>')
    delta = resource_delta(old, new)
    assert flags(delta.old_resources) == {"service:s": {"INLINE"}, "script:x": {"INLINE"}}
    assert flags(delta.new_resources)["service:s"] == {"INLINE", "NEEDSTART", "RECONFIG"}
    assert delta.new_roots[0].flags == {"RECONFIG"}
    assert delta.new_roots[0].children[0].flags == frozenset()


def test_changed_attribute_stops_old_and_starts_new(tmp_path: Path) -> None:
    old = conf(tmp_path, "a", '<service name="s"><script name="x" file="/x"><ip address="192.0.2.1"/></script></service>')
    new = conf(tmp_path, "b", '<service name="s"><script name="x" file="/y"><ip address="192.0.2.1"/></script></service>')
    delta = resource_delta(old, new)
    assert delta.old_roots[0].children[0].flags == {"NEEDSTOP"}
    assert delta.new_roots[0].children[0].flags == {"NEEDSTART"}
    # the ip below restarts with its parent, so it carries no flag of its own
    assert delta.new_roots[0].children[0].children[0].flags == frozenset()


def test_removed_and_added_nodes(tmp_path: Path) -> None:
    old = conf(tmp_path, "a", '<service name="s"><script name="x" file="/x"/></service>')
    new = conf(tmp_path, "b", '<service name="s"><ip address="192.0.2.1"/></service><service name="t"/>')
    delta = resource_delta(old, new)
    assert flags(delta.old_resources)["script:x"] == {"INLINE", "NEEDSTOP"}
    assert [c.flags for c in delta.old_roots[0].children] == [{"NEEDSTOP"}]
    assert [c.flags for c in delta.new_roots[0].children] == [{"NEEDSTART"}]
    assert delta.new_roots[1].flags == {"NEEDSTART"} and delta.new_roots[0].flags == frozenset()


def test_identical_files_have_no_flags(tmp_path: Path) -> None:
    body = '<service name="s"><fs name="f" device="/d" mountpoint="/m"><nfsexport name="e"/></fs></service>'
    delta = resource_delta(conf(tmp_path, "a", body), conf(tmp_path, "b", body))
    assert all(r.flags == {"INLINE"} for r in delta.old_resources + delta.new_resources)
    assert delta.old_roots == conf(tmp_path, "a", body).roots and delta.new_roots == delta.old_roots
