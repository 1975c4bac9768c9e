"""Checks and timeouts of cluster.conf resources run by OCF agents, from the agents' meta-data
(hbd/runtime/service_meta.py, the path the cluster.conf daemon takes at start: ClusterDaemon.__init__ ->
service_meta.with_meta_data -> service_trees.with_actions -> the driver's checks and service_timeouts' bounds).
A fake OCF agent `apache` under a temporary OCF root prints the meta-data each test writes for it; the rule
table's apache (status every 1 min, timeout 10 s) is what a bad or missing meta-data falls back to."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest

from hbd.agents.ocf import OcfAgent
from hbd.agents.registry import Registry
from hbd.config.clusterconf import load_cluster_conf
from hbd.config.monitoring import CheckTiming
from hbd.errors import Problems
from hbd.runtime import service_meta, service_timeouts, service_trees
from hbd.runtime.service_meta import ocf_seconds

AGENT = """#!/bin/sh
case "$1" in
  meta-data) [ -e {dir}/meta.sleep ] && sleep 10; cat {dir}/meta.xml; exit $(cat {dir}/meta.rc 2>/dev/null || echo 0);;
  monitor) echo "$OCF_CHECK_LEVEL" > {dir}/level; exit 7;;
esac
exit 0
"""
META = """<?xml version="1.0"?>
<resource-agent name="apache" version="1.0">
  <parameters><parameter name="name"><content type="string"/></parameter></parameters>
  <actions>
    <action name="start" timeout="40s"/>
    <action name="stop" timeout="1min"/>
    <action name="monitor" depth="0" timeout="7s" interval="3s"/>
    <action name="monitor" depth="10" timeout="30s" interval="2min"/>
    <action name="meta-data" timeout="5s"/>
  </actions>
</resource-agent>
"""
RULE_TABLE_CHECK = CheckTiming(60_000, 10_000)


def conf_of(tmp_path: Path, meta: str | None = META, action: str = "", enforce: str = "") -> Any:
    agent = tmp_path / "ocf" / "resource.d" / "heartbeat" / "apache"
    agent.parent.mkdir(parents=True, exist_ok=True)
    agent.write_text(AGENT.format(dir=tmp_path))
    agent.chmod(0o755)
    if meta is not None:
        (tmp_path / "meta.xml").write_text(meta)
    (tmp_path / "cluster.conf").write_text(f"""<?xml version="1.0"?>
<cluster name="c" config_version="1">
  <cman two_node="1" expected_votes="1"/>
  <clusternodes><clusternode name="n1" nodeid="1"/><clusternode name="n2" nodeid="2"/></clusternodes>
  <rm><service name="web"><apache name="web"{enforce}>{action}</apache></service></rm>
</cluster>
""")
    problems = Problems()
    conf = load_cluster_conf(tmp_path / "cluster.conf", problems)
    assert not [p for p in problems.items if p.severity == "error"], problems.items
    return conf


def trees_of(tmp_path: Path, conf: Any, timeout_s: float = 5.0) -> service_trees.ServiceTrees:
    registry = Registry(ocf_root=tmp_path / "ocf")
    return service_meta.with_meta_data(service_trees.build(conf), registry.resolve, timeout_s)


def test_ocf_times_as_pacemaker_writes_them() -> None:
    assert [ocf_seconds(t) for t in ("20", "20s", "1min", "2m", "1h", "500ms", " 10 sec ")] == \
        [20, 20, 60, 120, 3600, 1, 10]
    with pytest.raises(ValueError):
        ocf_seconds("soon")


def test_the_check_and_the_bounds_come_from_the_agents_meta_data(tmp_path: Path) -> None:
    conf = conf_of(tmp_path, enforce=' __enforce_timeouts="1"')
    before = service_trees.build(conf)
    assert before.timings["apache:web"] == RULE_TABLE_CHECK  # the rule table, without the agent
    trees = trees_of(tmp_path, conf)
    assert trees.timings["apache:web"] == CheckTiming(3000, 7000, 0)  # monitor depth 0 stands for status
    bounds = service_timeouts.bounds_of(trees, "apache:web")
    assert (bounds["start"], bounds["stop"], bounds["status"]) == (40, 60, 7)
    assert service_trees.stop_bound_ms(trees, trees.services["web"]) == 60_000


def test_an_action_in_cluster_conf_wins_over_the_meta_data(tmp_path: Path) -> None:
    conf = conf_of(tmp_path, action='<action name="status" depth="0" interval="5"/><action name="start" timeout="9"/>',
                   enforce=' __enforce_timeouts="1"')
    trees = trees_of(tmp_path, conf)
    assert trees.timings["apache:web"] == CheckTiming(5000, 7000, 0)  # interval from cluster.conf, timeout kept
    assert service_timeouts.bounds_of(trees, "apache:web")["start"] == 9


def test_the_check_runs_at_its_depth(tmp_path: Path) -> None:
    only_deep = META.replace('<action name="monitor" depth="0" timeout="7s" interval="3s"/>', "")
    trees = trees_of(tmp_path, conf_of(tmp_path, only_deep))
    timing = trees.timings["apache:web"]
    assert timing == CheckTiming(120_000, 30_000, 10)
    agent = Registry(ocf_root=tmp_path / "ocf").resolve(trees.services["web"].children[0])
    assert isinstance(agent, OcfAgent)
    agent.check_level = timing.depth  # what the driver's checks set on their own agent
    agent.call("status", 5)
    assert (tmp_path / "level").read_text().strip() == "10"  # OCF_CHECK_LEVEL


@pytest.mark.parametrize("meta, fault, why", [
    ("<resource-agent", None, "not well-formed"),
    (META, "meta.rc", "meta-data failed"),
    (META.replace('interval="3s"', 'interval="often"'), None, "bad time"),
    (None, None, "meta-data"),  # prints nothing
])
def test_a_bad_meta_data_falls_back_to_the_rule_table_with_a_warning(tmp_path: Path, meta: str | None,
                                                                     fault: str | None, why: str,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    conf = conf_of(tmp_path, meta)
    if fault:
        (tmp_path / fault).write_text("1\n")
    with caplog.at_level(logging.INFO, logger="hbd.services"):
        trees = trees_of(tmp_path, conf)
    assert trees.timings["apache:web"] == RULE_TABLE_CHECK
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("apache:web: meta-data of" in m and why in m and "from the rule table" in m for m in warned), warned


def test_a_hanging_meta_data_is_cut_at_its_bound(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    conf = conf_of(tmp_path)
    (tmp_path / "meta.sleep").write_text("")
    begin = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="hbd.services"):
        trees = trees_of(tmp_path, conf, timeout_s=0.5)
    assert time.monotonic() - begin < 5  # the agent sleeps 10 s
    assert trees.timings["apache:web"] == RULE_TABLE_CHECK
    assert any("not usable" in r.getMessage() for r in caplog.records)


def test_the_drivers_check_of_the_resource_runs_at_that_depth(tmp_path: Path) -> None:
    import asyncio

    from hbd.runtime.service_driver import ServiceMonitor

    only_deep = META.replace('<action name="monitor" depth="0" timeout="7s" interval="3s"/>', "")
    trees = trees_of(tmp_path, conf_of(tmp_path, only_deep))
    resolve = service_timeouts.bounded(trees, Registry(ocf_root=tmp_path / "ocf").resolve)
    loop = asyncio.new_event_loop()
    try:
        monitor = ServiceMonitor(trees, resolve, lambda event: None, lambda service: False)
        monitor.start(loop)
        (check,) = [c for c in monitor.checks if c.node.ident == "apache:web"]
        assert check.timing == CheckTiming(120_000, 30_000, 10)
        assert isinstance(check.agent, service_timeouts.BoundedAgent) and check.agent.inner.check_level == 10
        monitor.close()
    finally:
        loop.close()
