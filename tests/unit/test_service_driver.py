"""The service driver (hbd/runtime/service_driver.py) on a real asyncio loop: two drivers joined by an in-memory
network (the codec seam stubbed: messages pass as values), in-memory agents, the real plan order, quorum,
grace, admin requests waiting for their outcome, and status checks feeding the recovery policy."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Callable

import pytest

from daemon_fakes import FakeAgent, World
from hbd.agents.base import Agent
from hbd.agents.registry import ContainerAgent
from hbd.config.clusterconf import load_cluster_conf
from hbd.config.model import ResourceNode
from hbd.config.rules import child_type_table
from hbd.core.ordering import targeted_plan
from hbd.core.quorum import Quorum, QuorumConfig
from hbd.core.service_events import FenceCause, SelfFence
from hbd.core.service_outcome import AdminResult
from hbd.core.service_states import ServiceState
from hbd.core.service_table import AdminOp, AdminRequest, Refusal, Report, ServiceMessage
from hbd.errors import Problems
from hbd.runtime import service_trees
from hbd.runtime.groups import GroupRunner
from hbd.runtime.service_driver import ServiceDriver

CONF = """<?xml version="1.0"?>
<cluster name="c" config_version="1">
  <cman two_node="{two_node}" expected_votes="1"/>
  <clusternodes>{nodes}</clusternodes>
  <rm>
    <service name="database" recovery="{recovery}" max_restarts="{max_restarts}">
      <service name="dbnode">
        <ip address="192.0.2.50/24" monitor_link="0"/>
      </service>
      <service name="dbms">
        <script name="db" file="/etc/init.d/db">{action}</script>
      </service>
    </service>
  </rm>
</cluster>
"""
GRACE_MS = 300
BOUND_S = 10.0


def write_conf(tmp_path: Path, nodes: int = 2, recovery: str = "relocate", max_restarts: int = 0,
               action: str = "") -> Any:
    members = "".join(f'<clusternode name="n{i}" nodeid="{i}" votes="1"/>' for i in range(1, nodes + 1))
    path = tmp_path / "cluster.conf"
    path.write_text(CONF.format(two_node="1" if nodes == 2 else "0", nodes=members, recovery=recovery,
                                max_restarts=max_restarts, action=action))
    problems = Problems()
    conf = load_cluster_conf(path, problems)
    assert not [p for p in problems.items if p.severity == "error"], problems.items
    return conf


class Node:
    """One driver with its own in-memory agents (resource names are `type:primary`)."""

    def __init__(self, name: str, conf: Any, net: "Net"):
        self.name = name
        self.world = World()
        self.fences: list[SelfFence] = []
        trees = service_trees.build(conf)
        runner = GroupRunner(trees.plans, child_type_table(), resolve=self.resolve)
        votes = {n.name: n.votes for n in conf.catalog.nodes}
        quorum = Quorum(QuorumConfig.of(votes, conf.expected_votes, conf.two_node))
        self.driver = ServiceDriver(name, conf.catalog, trees, runner, quorum, GRACE_MS,
                                    lambda to, msg: net.send(name, to, msg), self_fence=self.fences.append)

    def resolve(self, node: ResourceNode) -> Agent:
        if node.type == "service":
            return ContainerAgent("service", node.primary)
        agent = FakeAgent(self.world, node.ident)
        agent.idempotent_start = node.type != "script"
        return agent

    def ops(self, op: str) -> list[str]:
        return [line.rsplit(" ", 1)[0] for line in self.world.journal if line.endswith(f" {op}")]


class Net:
    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.cut: set[str] = set()
        self.sent = 0

    def send(self, src: str, to: str, msg: ServiceMessage) -> None:
        if src in self.cut or to in self.cut or to not in self.nodes:
            return
        self.sent += 1
        asyncio.get_running_loop().call_soon(self.nodes[to].driver.received, msg)

    def add(self, node: Node) -> Node:
        self.nodes[node.name] = node
        return node


async def until(predicate: Callable[[], bool], what: str, timeout: float = BOUND_S) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.01)


def owner(node: Node, service: str = "database") -> str | None:
    entry = node.driver.entry(service)
    return entry.owner if entry is not None and entry.state is ServiceState.STARTED else None


def plan_order(conf: Any, op: str) -> list[str]:
    """`hbd test noop OP service database`'s resource lines (containers run no agent)."""
    steps = targeted_plan(op, conf.roots, lambda n: n.type == "service" and n.primary == "database",  # type: ignore[arg-type]
                          child_type_table())
    return [s.node.ident for s in steps if s.node.type != "service"]


async def two_nodes(tmp_path: Path, **kw: Any) -> tuple[Any, Net, Node, Node]:
    conf = write_conf(tmp_path, **kw)
    net = Net()
    n1, n2 = net.add(Node("n1", conf, net)), net.add(Node("n2", conf, net))
    loop = asyncio.get_running_loop()
    for node in (n1, n2):
        node.driver.start(loop)
        node.driver.members(frozenset({"n1", "n2"}))
    await until(lambda: owner(n1) == "n1" and owner(n2) == "n1", "database started on n1, seen by both")
    return conf, net, n1, n2


def test_starts_on_one_node_in_plan_order_after_the_start_up_stop(tmp_path: Path) -> None:
    async def run() -> None:
        conf, net, n1, n2 = await two_nodes(tmp_path)
        order = plan_order(conf, "start")
        assert order == ["ip:192.0.2.50/24", "script:db"]
        assert n1.ops("start") == order
        assert n2.ops("start") == []  # never two owners
        # the start-up stop ran on both nodes, before anything started
        first_start = n1.world.journal.index(f"{order[0]} start")
        assert n1.ops("stop") == plan_order(conf, "stop")
        assert max(n1.world.journal.index(f"{r} stop") for r in order) < first_start
        status = n1.driver.status()
        row = status["services"][0]
        assert (row["name"], row["state"], row["owner"], row["local"]) == ("database", "started", "n1", "started")
        assert status["quorum"]["quorate"] and status["quorum"]["members"] == ["n1", "n2"]
        assert {r["resource"]: r["state"] for r in row["resources"]} == {"ip:192.0.2.50/24": "running",
                                                                          "script:db": "running"}
        for n in (n1, n2):
            n.driver.close()
    asyncio.run(run())


def test_the_survivor_starts_it_after_the_grace(tmp_path: Path) -> None:
    async def run() -> None:
        _, net, n1, n2 = await two_nodes(tmp_path)
        loop = asyncio.get_running_loop()
        net.cut.add("n1")
        n1.driver.close()  # powered off
        lost = loop.time()
        n2.driver.members(frozenset({"n2"}))
        await until(lambda: owner(n2) == "n2", "database started on n2")
        assert loop.time() - lost >= GRACE_MS / 1000 - 0.02  # not before the departed node's grace
        assert n2.ops("start") == ["ip:192.0.2.50/24", "script:db"]
        assert n2.driver.status()["services"][0]["last_owner"] in ("n1", "n2")
        n2.driver.close()
    asyncio.run(run())


def test_a_node_with_a_fence_device_is_given_up_only_once_fenced(tmp_path: Path) -> None:
    """two_node with fencing: the survivor starts the service once the fence succeeded, not after a grace
    (both halves of a two_node split keep quorum, so no time proves the other stopped)."""
    async def run() -> None:
        _, net, n1, n2 = await two_nodes(tmp_path)
        n2.driver.node.until_fenced = frozenset({"n1"})  # as the cluster daemon gives it when n1 has a device
        loop = asyncio.get_running_loop()
        net.cut.add("n1")
        n1.driver.close()
        n2.driver.members(frozenset({"n2"}))
        # a condition that must not come: three graces pass, after which a time-based grace would have ended
        await asyncio.sleep(3 * GRACE_MS / 1000)
        assert n2.ops("start") == [] and owner(n2) != "n2"
        fenced = loop.time()
        n2.driver.fenced("n1")
        await until(lambda: owner(n2) == "n2", "started on n2 once n1 is fenced")
        assert loop.time() - fenced < GRACE_MS / 1000  # at once, not after another grace
        n2.driver.close()
    asyncio.run(run())


def test_relocate_waits_for_the_outcome_and_stops_in_reverse_order(tmp_path: Path) -> None:
    async def run() -> None:
        conf, net, n1, n2 = await two_nodes(tmp_path)
        n1.world.journal.clear()
        outcome = await n2.driver.admin(AdminRequest(AdminOp.RELOCATE, "database", "n2"), 10)
        assert outcome.result is AdminResult.DONE, outcome
        assert outcome.entry is not None and outcome.entry.owner == "n2"
        assert n1.ops("stop") == plan_order(conf, "stop") == ["script:db", "ip:192.0.2.50/24"]
        assert owner(n1) == "n2"
        # refused requests change nothing and say why
        for request, refusal in ((AdminRequest(AdminOp.RELOCATE, "nosuch", None), Refusal.NO_SUCH_SERVICE),
                                 (AdminRequest(AdminOp.RELOCATE, "database", "n9"), Refusal.NO_SUCH_NODE)):
            before = len(n1.world.journal) + len(n2.world.journal)
            out = await n1.driver.admin(request, 5)
            assert out.result is AdminResult.REFUSED and out.refusal is refusal, out
            assert len(n1.world.journal) + len(n2.world.journal) == before
        disabled = await n1.driver.admin(AdminRequest(AdminOp.DISABLE, "database"), 10)
        assert disabled.result is AdminResult.DONE and disabled.entry is not None, disabled
        assert disabled.entry.state is ServiceState.DISABLED
        assert n2.world.up == set()
        for n in (n1, n2):
            n.driver.close()
    asyncio.run(run())


def test_a_relocation_that_fails_on_the_target_never_reports_it_running_there(tmp_path: Path) -> None:
    async def run() -> None:
        _, net, n1, n2 = await two_nodes(tmp_path)
        n2.world.fail.add("ip:192.0.2.50/24 start")
        n2.world.fail.add("ip:192.0.2.50/24 status")
        out = await n1.driver.admin(AdminRequest(AdminOp.RELOCATE, "database", "n2"), 5)
        assert out.result is not AdminResult.DONE or out.elsewhere, out
        assert out.entry is not None and out.entry.owner != "n2"
        assert n2.world.up == set() and owner(n1) == "n1"  # its recovery brought it back to n1
        for n in (n1, n2):
            n.driver.close()
    asyncio.run(run())


def test_a_failed_status_check_recovers_by_the_policy(tmp_path: Path) -> None:
    action = '<action name="status" depth="0" interval="1" timeout="5"/>'

    async def run() -> None:
        _, net, n1, n2 = await two_nodes(tmp_path, recovery="restart", max_restarts=1, action=action)
        assert n1.driver.monitor.timings["script:db"].interval_ms == 1000
        n1.world.journal.clear()
        n1.world.up.discard("script:db")  # the process died
        await until(lambda: n1.driver.status()["services"][0]["failures"] == 1 and owner(n2) == "n1"
                    and n1.ops("start") == ["ip:192.0.2.50/24", "script:db"], "restarted in place on n1")
        row = n1.driver.status()["services"][0]
        assert row["restarts"] == 1 and row["last_failure"]["resource"] == "script:db"
        n1.world.up.discard("script:db")  # beyond max_restarts: relocated
        await until(lambda: owner(n2) == "n2" and owner(n1) == "n2", "relocated to n2")
        assert "script:db" in n2.world.up
        for n in (n1, n2):
            n.driver.close()
    asyncio.run(run())


def test_recovery_disable_leaves_it_disabled_and_status_says_why_in_the_schema_spelling(tmp_path: Path) -> None:
    action = '<action name="status" depth="0" interval="1" timeout="5"/>'

    async def run() -> None:
        _, net, n1, n2 = await two_nodes(tmp_path, recovery="disable", action=action)
        n1.world.journal.clear()
        n1.world.up.discard("script:db")  # the process died
        await until(lambda: n1.driver.status()["services"][0]["state"] == "disabled", "disabled")
        row = n1.driver.status()["services"][0]
        assert (row["disabled_by"], row["enabled"], row["local"]) == ("recovery", False, "disabled")
        assert n1.ops("start") == [] and n2.ops("start") == []
        for n in (n1, n2):
            n.driver.close()
    asyncio.run(run())


def test_without_quorum_it_stops_and_starts_nothing(tmp_path: Path) -> None:
    async def run() -> None:
        conf = write_conf(tmp_path, nodes=3)
        net = Net()
        nodes = [net.add(Node(f"n{i}", conf, net)) for i in (1, 2, 3)]
        loop = asyncio.get_running_loop()
        for node in nodes:
            node.driver.start(loop)
            node.driver.members(frozenset({"n1", "n2", "n3"}))
        await until(lambda: all(owner(n) == "n1" for n in nodes), "started on n1")
        net.cut.add("n1")
        nodes[0].driver.members(frozenset({"n1"}))
        for node in nodes[1:]:
            node.driver.members(frozenset({"n2", "n3"}))
        await until(lambda: nodes[0].world.up == set(), "n1 without quorum stopped it")
        assert not nodes[0].driver.status()["quorum"]["quorate"]
        await until(lambda: owner(nodes[1]) in ("n2", "n3"), "the quorate side started it")
        out = await nodes[0].driver.admin(AdminRequest(AdminOp.ENABLE, "database"), 2)
        assert out.refusal is Refusal.NOT_QUORATE
        assert len([n for n in nodes if "script:db" in n.world.up]) == 1
        for node in nodes:
            node.driver.close()
    asyncio.run(run())


def test_status_shows_the_last_placement_while_a_new_one_is_agreed(tmp_path: Path) -> None:
    """A membership change clears the table in force until the coordinator announces one; status meanwhile
    shows the last placement followed (marked pending), not every service stopped with no owner."""
    async def run() -> None:
        conf = write_conf(tmp_path, nodes=3)
        net = Net()
        nodes = [net.add(Node(f"n{i}", conf, net)) for i in (1, 2, 3)]
        for node in nodes:
            node.driver.start(asyncio.get_running_loop())
            node.driver.members(frozenset({"n1", "n2", "n3"}))
        await until(lambda: all(owner(n) == "n1" for n in nodes) and not any(
            n.driver.status()["services"][0]["pending"] for n in nodes), "started on n1, agreed by all")
        net.cut.add("n1")
        nodes[2].driver.members(frozenset({"n2", "n3"}))  # n3 learns first: no announcement can have come yet
        row = nodes[2].driver.status()["services"][0]
        assert nodes[2].driver.node.table() is None
        assert (row["pending"], row["owner"], row["state"]) == (True, "n1", "started"), row
        nodes[1].driver.members(frozenset({"n2", "n3"}))
        await until(lambda: not nodes[2].driver.status()["services"][0]["pending"], "a new placement agreed")
        for node in nodes:
            node.driver.close()
    asyncio.run(run())


def test_a_copy_whose_start_up_stop_failed_self_fences_without_quorum(tmp_path: Path) -> None:
    """Left alone in a three-node cluster, the copy may run while the other two, quorate, start the service."""
    async def run() -> None:
        conf = write_conf(tmp_path, nodes=3)
        net = Net()
        n1 = net.add(Node("n1", conf, net))
        n1.world.up.add("script:db")
        n1.world.fail.add("script:db stop")
        n1.driver.start(asyncio.get_running_loop())
        n1.driver.members(frozenset({"n1", "n2", "n3"}))  # cman's expected votes rise to the 3 seen
        await until(lambda: n1.driver.ready and n1.driver.status()["quorum"]["quorate"], "joined, quorate")
        assert n1.fences == [] and n1.driver.status()["services"][0]["local"] == "failed"
        n1.driver.members(frozenset({"n1"}))
        await until(lambda: n1.fences != [], "a self-fence")
        assert [(f.service, f.cause) for f in n1.fences] == [("database", FenceCause.STOP_FAILED_WITHOUT_QUORUM)]
        n1.driver.close()
    asyncio.run(run())


def test_a_failed_start_up_stop_leaves_the_service_failed_here_and_the_node_takes_part(tmp_path: Path) -> None:
    """A service whose start-up stop fails may still run here: it joins as failed (placed here, started nowhere
    else) until an admin disable tries the stop again; the node is not kept out (a member that never reported
    would leave the coordinator without a table, and every service of the cluster without a placement)."""
    async def run() -> None:
        conf = write_conf(tmp_path, nodes=3)
        net = Net()
        n1, n2, n3 = (net.add(Node(f"n{i}", conf, net)) for i in (1, 2, 3))
        n1.world.up.add("script:db")
        n1.world.fail.add("script:db stop")
        for node in (n1, n2, n3):
            node.driver.start(asyncio.get_running_loop())
        await until(lambda: n1.driver.ready, "the start-up stop ran")
        assert n1.driver.status()["services"][0]["local"] == "failed"
        for node in (n1, n2, n3):
            node.driver.members(frozenset({"n1", "n2", "n3"}))
        await until(lambda: all(n.driver.status()["services"][0]["state"] == "failed"
                                and not n.driver.status()["services"][0]["pending"] for n in (n1, n2, n3)),
                    "a table for all three, the service failed on n1")
        assert n1.driver.entry("database").placement == "n1"  # type: ignore[union-attr]
        assert n2.ops("start") == [] and n3.ops("start") == [] and n1.ops("start") == [] and n1.fences == []
        n1.world.fail.discard("script:db stop")  # the admin fixed it; a disable tries the stop again
        out = await n2.driver.admin(AdminRequest(AdminOp.DISABLE, "database"), 10)
        assert out.result is AdminResult.DONE, out
        assert "script:db" not in n1.world.up and n1.driver.status()["services"][0]["local"] == "disabled"
        out = await n2.driver.admin(AdminRequest(AdminOp.ENABLE, "database"), 10)
        assert out.result is AdminResult.DONE and out.entry is not None and out.entry.owner is not None, out
        for node in (n1, n2, n3):
            node.driver.close()
    asyncio.run(run())


@pytest.mark.parametrize("two_node, wanted", [(True, 10_000), (False, 10_000 + 60_000 + 60_000)])
def test_the_grace_covers_the_longest_stop_unless_two_node(tmp_path: Path, two_node: bool, wanted: int) -> None:
    conf = write_conf(tmp_path, nodes=2 if two_node else 3)
    trees = service_trees.build(conf)
    # neither enforces its timeouts: ip's stop 20 s and script's 0 are each bounded by hbd's 60 s default
    assert service_trees.grace_ms(conf, trees, 10_000) == wanted


def test_a_report_sent_before_the_coordinator_had_the_same_view_still_counts(tmp_path: Path) -> None:
    async def run() -> None:
        conf = write_conf(tmp_path)
        net = Net()
        n1, n2 = net.add(Node("n1", conf, net)), net.add(Node("n2", conf, net))
        loop = asyncio.get_running_loop()
        for node in (n1, n2):
            node.driver.start(loop)
        n2.driver.members(frozenset({"n1", "n2"}))  # n2 sees n1 first and reports to it at once
        await until(lambda: net.sent > 0, "n2 reported")
        await asyncio.sleep(0.05)
        n1.driver.members(frozenset({"n1", "n2"}))  # n1 sees n2 only now; n2's view does not change again
        await until(lambda: owner(n1) == "n1" and owner(n2) == "n1", "database started on n1, seen by both")
        for node in (n1, n2):
            node.driver.close()
    asyncio.run(run())


def test_an_older_report_retransmitted_after_a_newer_one_is_dropped(tmp_path: Path) -> None:
    async def run() -> None:
        _, net, n1, n2 = await two_nodes(tmp_path)
        newer = n1.driver.newest[("n2", Report)]
        assert isinstance(newer, Report)
        older = Report("n2", newer.members, newer.seen_seq, newer.last, {"database": ServiceState.STARTED})
        n1.driver.received(newer, (7, 50))
        n1.driver.received(older, (7, 49))  # a retransmission that arrived late
        assert n1.driver.newest[("n2", Report)] is newer
        assert n1.driver.node.coordinator.reports["n2"] is newer  # the core never saw the older state
        n1.driver.received(older, (8, 1))  # a new generation (n2 restarted): its word counts again
        assert n1.driver.node.coordinator.reports["n2"] is older
        for node in (n1, n2):
            node.driver.close()
    asyncio.run(run())


def test_after_a_partition_heals_the_nodes_agree_on_one_owner(tmp_path: Path) -> None:
    async def run() -> None:
        conf = write_conf(tmp_path, nodes=3)
        net = Net()
        nodes = [net.add(Node(f"n{i}", conf, net)) for i in (1, 2, 3)]
        n1, n2, n3 = nodes
        loop = asyncio.get_running_loop()
        everyone = frozenset({"n1", "n2", "n3"})
        for node in nodes:
            node.driver.start(loop)
            node.driver.members(everyone)
        await until(lambda: all(owner(n) == "n1" for n in nodes), "started on n1")
        net.cut.add("n1")  # {n1} | {n2, n3}
        n1.driver.members(frozenset({"n1"}))
        for node in (n2, n3):
            node.driver.members(frozenset({"n2", "n3"}))
        await until(lambda: owner(n2) in ("n2", "n3") and n1.world.up == set(), "moved to the quorate side")
        moved_to = owner(n2)
        net.cut.clear()  # healed: n1 (the coordinator again) learns it first, its reports from before are stale
        n1.driver.members(everyone)
        await asyncio.sleep(0.05)
        for node in (n2, n3):
            node.driver.members(everyone)
        await until(lambda: all(owner(n) == moved_to for n in nodes), "all three agree where it runs")
        assert [n.name for n in nodes if "script:db" in n.world.up] == [moved_to]
        for node in nodes:
            node.driver.close()
    asyncio.run(run())
