"""One node core (hbd/core/node.py) shared by the runtime's two carriers; it translates nothing and decides nothing.

The heartbeat layer (membership_service.py) steps the core with messages and time, the ownership driver
(ownership_driver.py) with agent results and admin requests. Each sees the core through a facade shaped
like the core it used to drive (seconds for the heartbeat layer, milliseconds for the driver) and gets
back the actions it carries out; whatever a step returns for the other carrier is handed to it, and the
node's own actions (a pre-probe round, a restart, another service's message) go to `on_node_action`,
in the order the core returned them.
There is one timer, the heartbeat layer's: its wake-up is the node core's next deadline.
"""
from __future__ import annotations

import random
from typing import Any, Callable, cast

from hbd.config import LoadedConfig
from hbd.core import membership_events as m
from hbd.core import node_events as n
from hbd.core import ownership_types as o
from hbd.core import recovery as r
from hbd.core.holdings import GroupInfo, Topology
from hbd.core.membership import MembershipConfig
from hbd.core.messages import Field
from hbd.core.node import NodeConfig, NodeCore
from hbd.config.monitoring import settings_of as monitor_settings
from hbd.runtime.fencing_lane import lane_settings
from hbd.runtime.stop_escalation import settings_of as stop_settings

MEMBERSHIP_ACTIONS = (m.Send, m.Log, m.Dropped, m.NodeChanged, m.LinkChanged, m.PeerRestarted, m.PeerReturned,
                      m.CommUp, m.LocalHeartbeatLost)
NODE_ACTIONS = (n.ProbeNow, n.Restart, n.Delivered, r.RestartGroup, r.RestartResource)


def ms(seconds: float) -> int:
    # rounded: a timer may fire a hair before its due time, and must still find the deadline due
    return round(seconds * 1000)


class Bridge:
    def __init__(self, config: NodeConfig, now_s: float, generation: int):
        self.node = NodeCore(config, ms(now_s), generation=generation, rng=random.Random())
        self.carry_membership: Callable[[list[m.Action]], None] = lambda actions: None
        self.carry_ownership: Callable[[list[o.Action]], None] = lambda actions: None
        self.on_node_action: Callable[[n.Action], None] = lambda action: None

    def step(self, event: n.Event, now_ms: int, keep: type | tuple[type, ...]) -> list[Any]:
        """Step the core. For the heartbeat layer (`keep` = its actions) every action comes back, in order:
        it applies its own and tells its observers each one, and `route` (one of them) hands the others on,
        so that alerts and transitions keep the order of events. For the driver: its actions come back, the
        heartbeat layer's and the node's are handed on."""
        stepped = self.node.ownership_steps
        actions = self.node.handle(event, now_ms)
        if keep is MEMBERSHIP_ACTIONS:
            if self.node.ownership_steps != stepped and not any(isinstance(a, OWNERSHIP_ACTIONS) for a in actions):
                self.carry_ownership([])  # ownership changed without acting: the driver's view follows
            return actions
        kept: list[Any] = []
        heartbeat: list[m.Action] = []
        for action in actions:
            if isinstance(action, keep):
                kept.append(action)
            elif isinstance(action, MEMBERSHIP_ACTIONS):
                heartbeat.append(action)
            elif isinstance(action, NODE_ACTIONS):
                self.on_node_action(action)
        self.carry_membership(heartbeat)  # also re-arms the one timer: the core's deadlines may have moved
        return kept

    def route(self, action: Any) -> None:
        """An observer of the heartbeat layer: the ownership and node actions of its steps, in order."""
        if isinstance(action, OWNERSHIP_ACTIONS):
            self.carry_ownership([cast(o.Action, action)])
        elif isinstance(action, NODE_ACTIONS):
            self.on_node_action(action)

    def membership_facade(self) -> "MembershipFacade":
        return MembershipFacade(self)

    def ownership_facade(self) -> "OwnershipFacade":
        return OwnershipFacade(self)


class MembershipFacade:
    """What membership_service.py drives: `start`, `handle(event, now_s)`, `wakeup_at()`, `send`, `view`."""

    def __init__(self, bridge: Bridge):
        self.bridge = bridge
        self.node = bridge.node

    def start(self, now_s: float) -> list[m.Action]:
        return self.node.start(ms(now_s))  # type: ignore[return-value]  # membership's actions only

    def handle(self, event: m.Event, now_s: float) -> list[m.Action]:
        """Every action of the step, in order (ownership's and the node's too: see Bridge.step)."""
        node_event: n.Event = n.Heard(event.message, event.link) if isinstance(event, m.Received) else n.Tick()
        return self.bridge.step(node_event, ms(now_s), MEMBERSHIP_ACTIONS)

    def wakeup_at(self) -> float:
        return self.node.next_deadline() / 1000

    def send(self, body: tuple[Field, ...]) -> m.Send:
        return self.node.membership.send(body)

    def view(self, now_s: float) -> m.MembershipView:
        return self.node.view(ms(now_s))


class OwnershipFacade:
    """What ownership_driver.py drives: the ownership core's interface, its events stepping the node core."""

    def __init__(self, bridge: Bridge):
        self.bridge = bridge
        self.node = bridge.node

    def handle(self, event: o.Event, now: int) -> list[o.Action]:
        return self.bridge.step(event, now, OWNERSHIP_ACTIONS)  # type: ignore[arg-type]

    def next_deadline(self, now: int) -> int | None:
        return None  # the node core's deadlines are the heartbeat layer's timer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.node.ownership, name)  # state, view(), topology, ...


def _ownership_action_types() -> tuple[type, ...]:
    return tuple(t for t in getattr(o.Action, "__args__", ()) if isinstance(t, type) and t is not o.Send)


OWNERSHIP_ACTIONS = _ownership_action_types()


def topology_of(cfg: LoadedConfig) -> Topology:
    assert cfg.heartbeat is not None
    # The definition is compared with the peer's (hbd.core.agreement): node and resources as written.
    return Topology(tuple(GroupInfo(g.key, g.node, " ".join([g.node, *(r.text for r in g.resources)]))
                          for g in cfg.heartbeat.groups))


def policy_of(cfg: LoadedConfig) -> o.Policy:
    assert cfg.heartbeat is not None
    stops = stop_settings(cfg.heartbeat.hacf)
    return o.Policy(auto_failback=cfg.heartbeat.hacf.auto_failback,
                    fencing=lane_settings(cfg.heartbeat.hacf) is not None,
                    stop_retries=stops.retries, on_stop_failure=stops.escalation)


def node_config(cfg: LoadedConfig, probe_groups: frozenset[str], service_types: frozenset[str]) -> NodeConfig:
    """The node core's configuration: membership timing, the groups, the policy; which groups the pre-probe
    can ask about, and the message types other services of this node handle."""
    assert cfg.heartbeat is not None
    hacf = cfg.heartbeat.hacf
    return NodeConfig(MembershipConfig.from_hacf(hacf), hacf.peers[0], topology_of(cfg), policy_of(cfg),
                      probe_groups=probe_groups, service_types=service_types,
                      ping_nodes=len(hacf.ping_nodes) + len(hacf.ping_groups),
                      recovery=monitor_settings(hacf).recovery)


def describe(action: m.Action) -> str:
    if isinstance(action, m.NodeChanged):
        return f"node {action.node}: {action.status}"
    if isinstance(action, m.LinkChanged):
        return f"link {action.node}:{action.link} {'up' if action.up else 'dead'}"
    if isinstance(action, m.PeerRestarted):
        return f"node {action.node} restarted (generation {action.generation})"
    if isinstance(action, m.PeerReturned):
        return f"node {action.node} returned after a partition"
    return type(action).__name__
