"""`__enforce_timeouts`: the bound of each start, stop and status of a cluster.conf resource
(hbd/runtime/service_timeouts.py, service_trees.bound_s), with real LSB scripts run by the cluster.conf
daemon's runner (GroupRunner over service_timeouts.bounded(Registry().resolve)), the grace that counts the same
bounds, and a status check over its timeout recovered by the driver."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from daemon_fakes import FakeAgent
from hbd.agents.base import Agent, AgentResult, Deadline, Outcome
from hbd.agents.registry import Registry
from hbd.config.clusterconf import load_cluster_conf
from hbd.config.model import ResourceNode
from hbd.config.rules import Action, child_type_table
from hbd.errors import Problems
from hbd.runtime import service_timeouts, service_trees
from hbd.runtime.groups import GroupRunner
from hbd.runtime.service_trees import bound_s
from test_service_driver import Net, Node, owner, until

SCRIPT = """#!/bin/sh
# start/stop first sleep for the seconds a SLOW.start / SLOW.stop file holds; the state is a file
STATE={state}
case "$1" in
  start) [ -e {slow}.start ] && sleep "$(cat {slow}.start)"; touch "$STATE"; exit 0;;
  stop) [ -e {slow}.stop ] && sleep "$(cat {slow}.stop)"; rm -f "$STATE"; exit 0;;
  status) [ -e "$STATE" ] && exit 0; exit 3;;
esac
exit 2
"""
CONF = """<?xml version="1.0"?>
<cluster name="c" config_version="1">
  <cman two_node="1" expected_votes="1"/>
  <clusternodes><clusternode name="n1" nodeid="1" votes="1"/><clusternode name="n2" nodeid="2" votes="1"/>
  </clusternodes>
  <rm>
    <service name="strict">
      <script name="strict" file="{dir}/strict" __enforce_timeouts="1">
        <action name="start" timeout="1"/><action name="stop" timeout="1"/>
      </script>
    </service>
    <service name="lax">
      <script name="lax" file="{dir}/lax"><action name="start" timeout="1"/><action name="stop" timeout="1"/></script>
    </service>
  </rm>
</cluster>
"""


# Not named setup: Debian's pytest 7 would call a module-level setup() as a nose-style module fixture.
def strict_and_lax(tmp_path: Path) -> tuple[Any, GroupRunner]:
    for name in ("strict", "lax"):
        script = tmp_path / name
        script.write_text(SCRIPT.format(state=tmp_path / f"{name}.up", slow=tmp_path / f"{name}.slow"))
        script.chmod(0o755)
    (tmp_path / "cluster.conf").write_text(CONF.format(dir=tmp_path))
    problems = Problems()
    conf = load_cluster_conf(tmp_path / "cluster.conf", problems)
    assert not [p for p in problems.items if p.severity == "error"], problems.items
    trees = service_trees.build(conf)
    return conf, GroupRunner(trees.plans, child_type_table(), resolve=service_timeouts.bounded(trees, Registry().resolve))


def slow(tmp_path: Path, name: str, op: str, seconds: float) -> None:
    (tmp_path / f"{name}.slow.{op}").write_text(f"{seconds}\n")


def test_the_bound_is_the_timeout_when_enforced_else_the_longer_of_it_and_the_default() -> None:
    acts = (Action("start", 900, 0, 0), Action("stop", 5, 0, 0), Action("status", 3, 30, 10),
            Action("status", 7, 60, 0))
    assert [bound_s(acts, op, True) for op in ("start", "stop", "status")] == [900, 5, 7]  # status: the check's
    assert [bound_s(acts, op, False) for op in ("start", "stop", "status")] == [900, 60, 20]
    assert bound_s((Action("start", 0, 0, 0),), "start", True) == 60  # 0: none given, hbd's default
    assert bound_s((), "stop", True) == bound_s((), "stop", False) == 60


def test_an_enforced_start_over_its_timeout_fails_and_is_killed_an_unenforced_one_runs_on(tmp_path: Path) -> None:
    _, runner = strict_and_lax(tmp_path)
    slow(tmp_path, "strict", "start", 3)
    slow(tmp_path, "lax", "start", 1.5)
    begin = time.monotonic()
    result = runner.start("strict")
    took = time.monotonic() - begin
    assert not result.ok and "timeout" in result.reason, result
    assert took < 2.9 and not (tmp_path / "strict.up").exists()  # killed at 1 s (+ its TERM grace), not awaited
    result = runner.start("lax")
    assert result.ok, result  # 1.5 s over its 1 s timeout: a hint without __enforce_timeouts (bound: 60 s)
    assert (tmp_path / "lax.up").exists()


def test_an_enforced_stop_over_its_timeout_is_a_failed_stop(tmp_path: Path) -> None:
    _, runner = strict_and_lax(tmp_path)
    assert runner.start("strict").ok and runner.start("lax").ok
    slow(tmp_path, "strict", "stop", 3)
    slow(tmp_path, "lax", "stop", 1.5)
    result = runner.stop("strict")
    assert not result.ok and "timeout" in result.reason, result  # the daemon's failed-stop path (state failed)
    assert (tmp_path / "strict.up").exists()
    assert runner.stop("lax").ok and not (tmp_path / "lax.up").exists()


def test_the_grace_counts_the_same_stop_bounds_as_the_runner(tmp_path: Path) -> None:
    conf, runner = strict_and_lax(tmp_path)
    trees = service_trees.build(conf)
    strict = runner.resolve(trees.services["strict"].children[0])
    lax = runner.resolve(trees.services["lax"].children[0])
    assert isinstance(strict, service_timeouts.BoundedAgent) and isinstance(lax, service_timeouts.BoundedAgent)
    assert (strict.bounds["stop"], lax.bounds["stop"]) == (1, 60)
    conf3 = type(conf)(**{**conf.__dict__, "two_node": False})  # majority quorum: the grace waits for stops
    assert service_trees.grace_ms(conf3, trees, 2000) == 2000 + 60_000  # the longest service's stop: lax's 60 s


class HangingStatus(FakeAgent):
    """A fake agent whose next status hangs past its deadline once the world's `fail` set names `NAME status`."""

    def status(self, deadline: Deadline) -> AgentResult:
        if f"{self.name} status" in self.world.fail:
            self.world.fail.discard(f"{self.name} status")  # once: the stop's own status then answers
            time.sleep(deadline.remaining() + 1.5)
            return AgentResult("status", Outcome.RUNNING)
        return super().status(deadline)


def test_a_status_check_over_its_timeout_is_a_failure_that_drives_recovery(tmp_path: Path) -> None:
    from test_service_driver import write_conf

    action = '<action name="status" depth="0" interval="1" timeout="1"/>'
    conf = write_conf(tmp_path, recovery="relocate", action=action)

    class HangNode(Node):
        def resolve(self, node: ResourceNode) -> Agent:
            if node.type != "script":
                return super().resolve(node)
            agent = HangingStatus(self.world, node.ident)
            agent.idempotent_start = False
            return agent

    async def run() -> None:
        net = Net()
        n1, n2 = net.add(HangNode("n1", conf, net)), net.add(HangNode("n2", conf, net))
        for node in (n1, n2):
            node.driver.start(asyncio.get_running_loop())
            node.driver.members(frozenset({"n1", "n2"}))
        await until(lambda: owner(n1) == "n1" and owner(n2) == "n1", "started on n1")
        n1.world.fail.add("script:db status")  # the check hangs past its 1 s timeout
        await until(lambda: owner(n1) == "n2" and owner(n2) == "n2", "relocated after the hung check", 15)
        row = n1.driver.status()["services"][0]
        # the monitor's hung-check timer or the agent's own late answer, whichever the loop sees first
        reason = row["last_failure"]["reason"]
        assert row["failures"] == 1 and ("did not answer within 1 s" in reason or "over its 1s timeout" in reason), row
        for n in (n1, n2):
            n.driver.close()
    asyncio.run(run())


def test_config_check_warns_only_about_the_flag_on_a_service_and_the_daemon_bounds_what_it_accepts(
        tmp_path: Path) -> None:
    from hbd.config import load
    from hbd.runtime.daemon import check_runnable
    from test_config_runnable import seed_copy

    def warned(edit: Any) -> list[str]:
        path = seed_copy(tmp_path, edit=edit)
        return [w.text for w in check_runnable(load(path)) if "__enforce_timeouts" in w.text]

    on_resource = warned(lambda t: t.replace("<script\n", '<script __enforce_timeouts="1"\n', 1))
    assert on_resource == []  # enforced: nothing to warn about
    trees = service_trees.build(load(tmp_path / "cluster.conf").cluster)
    assert trees.enforced == {"script:postgresql"}
    on_service = warned(lambda t: t.replace('<service name="database"', '<service name="database" '
                                                                         '__enforce_timeouts="1"', 1))
    assert len(on_service) == 1 and "bounds none of its resources" in on_service[0], on_service
    assert service_trees.build(load(tmp_path / "cluster.conf").cluster).enforced == frozenset()
