"""The daemon for a cluster.conf: membership from <clusternodes>, cman's quorum, rgmanager's <rm> services.

Built like the ha.cf daemon from the same parts: the heartbeat layer (runtime/membership_service.py over the
membership core) runs on the HaCf + AuthKeys that hbd/config/clustermembership.py derives from cluster.conf
(unicast to each peer unless <cman><multicast>, deadtime = <totem token>, the key file); its verdicts (the
nodes alive, once every node has been heard or declared dead) go through the quorum rule to the service
driver (runtime/service_driver.py), which runs the services core. Service messages travel as sequenced
membership messages addressed to one node (hbd/core/service_wire.py). Fencing: a departed node with a
<fence> plan is fenced by a lane of its own (runtime/fencing_lane.py) while this partition is quorate, and
NodeFenced ends its grace at once; a self-fence (a stop that failed without quorum) uses this node's own
plan, else reboots (runtime/stop_escalation.py announces it first). DRBD's fence-peer handler (`hbd
fence-peer`) is answered as by the ha.cf daemon (runtime/outdate_service.py) when the cluster has two nodes:
the other one is DRBD's peer; with more, which node is the peer is not known, and the handler is told so.

Shutdown (TERM, `hbd stop`): each service running here is first relocated through the coordinator (the others
start it at once), then whatever is left is stopped and the daemon leaves; what was not handed over starts
elsewhere after this node is declared dead and its grace has passed. Own heartbeat lost: stopped, then a
restart (no hand-over: this node cannot reach the others).
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from hbd import __version__
from hbd.agents.registry import Registry
from hbd.config import LoadedConfig
from hbd.config.clusterconf import ClusterConf, parse_xml
from hbd.config.clustermembership import ClusterMembership, load_cluster_membership
from hbd.config.hacf import local_node_name, read_hacf
from hbd.config.model import HaCf
from hbd.config.rules import child_type_table
from hbd.core import membership_events as m
from hbd.core import ownership_types as o
from hbd.core import recovery as r
from hbd.core import service_wire
from hbd.core.ownership_types import StopEscalation
from hbd.core.quorum import Quorum
from hbd.core.service_events import SelfFence
from hbd.core.service_outcome import AdminResult
from hbd.core.service_table import AdminOp, AdminRequest, ServiceMessage
from hbd.errors import ConfigError, Problems
from hbd.fencing.execute import fence
from hbd.runtime import control_messages as cm
from hbd.runtime import logsetup, service_meta, service_timeouts, service_trees
from hbd.runtime.alerts import AlertRunner, settings_of
from hbd.runtime.control import ControlServer
from hbd.runtime.daemon import Options, Outcome
from hbd.runtime.fencing_lane import DEFAULT_DELAY_S, FencingLane, LaneSettings
from hbd.runtime.groups import GroupRunner
from hbd.runtime.logsetup import log_hb
from hbd.runtime.membership_service import MembershipService
from hbd.runtime.outdate_service import EXIT, REPLY, REQUEST, OutdateService, control_reply
from hbd.runtime.service_driver import ServiceDriver, ms
from hbd.runtime.state import load_identity
from hbd.runtime.stop_escalation import Escalator

LOG = logging.getLogger("hbd.daemon")
SHUTDOWN_STOP_S = 600.0  # the longest the shutdown waits for the services' stops
HAND_OVER_S = 120.0  # the longest a graceful stop waits for one service's relocation
FENCE_RETRY_S = 5.0
RESTART_DELAY_S = 1.0
DEFAULT_FACILITY = "daemon"  # rgmanager's log_facility default


def cluster_membership(cfg: LoadedConfig, node: str | None) -> ClusterMembership:
    """cluster.conf's membership on this node (names resolved, media on this node's interfaces); ConfigError
    names the file, line and what is wrong (the same checks `hbd config check` runs)."""
    problems = Problems()
    root = parse_xml(cfg.path, problems)  # type: ignore[arg-type]
    local = local_node_name(Path(cfg.path).parent, node)
    built = load_cluster_membership(root, cfg.path, local, problems)
    problems.raise_if_errors()
    assert built is not None
    return replace(built, hacf=with_logging(built.hacf, Path(cfg.path).parent / "ha.cf"))


def with_logging(hacf: HaCf, beside: Path) -> HaCf:
    """Where the daemon logs: the logfile, debugfile and logfacility of an ha.cf beside cluster.conf (its problems
    were reported with the membership's); else syslog's daemon facility, as rgmanager logs."""
    if beside.is_file():
        other, _ = read_hacf(beside, Problems(), hacf.local_node)
        if other is not None:
            hacf = replace(hacf, logfile=other.logfile, debugfile=other.debugfile, logfacility=other.logfacility)
    if not hacf.logfile and not hacf.logfacility and Path(logsetup.SYSLOG_SOCKET).exists():
        hacf = replace(hacf, logfacility=DEFAULT_FACILITY)
    return hacf


def alert_settings(hacf: HaCf, beside: Path) -> tuple[tuple[str, ...], float]:
    """The `alert` and `alert_timeout` lines of an ha.cf beside cluster.conf (doc/alerts.md); none without one."""
    if beside.is_file():
        other, _ = read_hacf(beside, Problems(), hacf.local_node)
        if other is not None:
            return settings_of(other)
    return settings_of(hacf)


def fence_delay_s(conf: ClusterConf) -> float:
    """How long a lane waits before fencing a departed node: <fence_daemon post_fail_delay> (cman's), else
    none with majority quorum (only the quorate side fences), else (two_node: both halves fence) the ha.cf
    path's delay, so that the node holding the services fences first and survives."""
    root = parse_xml(Path(conf.path), Problems())
    daemon = root.find("fence_daemon")
    delay = daemon.get("post_fail_delay") if daemon is not None else None
    if delay is not None and delay.isdigit():
        return float(delay)
    return DEFAULT_DELAY_S if conf.two_node else 0.0


class ClusterDaemon:
    def __init__(self, cfg: LoadedConfig, opts: Options, membership: ClusterMembership):
        assert cfg.cluster is not None
        self.cfg, self.opts, self.settings = cfg, opts, membership
        self.conf: ClusterConf = cfg.cluster  # type: ignore[assignment]
        assert self.conf.catalog is not None
        self.catalog = self.conf.catalog
        self.hacf = membership.hacf
        self.me = self.hacf.local_node
        self.outcome = Outcome()
        self.started_wall = time.time()
        # each OCF agent's meta-data is read here, once, before any heartbeat (hbd/runtime/service_meta.py)
        trees = service_meta.with_meta_data(service_trees.build(self.conf), Registry().resolve)
        self.runner = GroupRunner(trees.plans, child_type_table(),
                                  resolve=service_timeouts.bounded(trees, Registry().resolve))
        grace = service_trees.grace_ms(self.conf, trees, self.hacf.timing.deadtime_ms)
        # two_node: both halves of a split stay quorate, so a departed node that has a fence device is given
        # up only once fenced (rgmanager waits for fenced); without one, the grace (config check warns)
        until_fenced = frozenset(p.node for p in self.conf.fence_plans) if self.conf.two_node else frozenset()
        self.driver = ServiceDriver(self.me, self.catalog, trees, self.runner, Quorum(membership.quorum), grace,
                                    self._send, self_fence=self._self_fence, until_fenced=until_fenced)
        others = [n.name for n in self.catalog.nodes if n.name.lower() != self.me.lower()]
        # the other node of a two-node cluster (DRBD's peer, the alerts' peer); None with more
        self.peer: str | None = others[0] if len(others) == 1 else None
        self.alerts = AlertRunner(*alert_settings(self.hacf, Path(cfg.path).parent / "ha.cf"), self.me,
                                  self.peer or "")
        self.driver.observers.append(self.alerts.service)
        self.plans = {p.node.lower(): p for p in self.conf.fence_plans}
        self.lanes: dict[str, FencingLane] = {}
        self.departed: set[str] = set()
        self.alive: frozenset[str] | None = None
        self.membership: MembershipService | None = None
        self.done = asyncio.Event()
        self.stopping = False
        self.stop_clients: list[asyncio.Task[Any]] = []
        self.wire_drops = 0
        self.outdate = OutdateService(self._broadcast, self._drbd_peer_dead)

    # --- run ------------------------------------------------------------------------------------

    async def run(self) -> Outcome:
        loop = asyncio.get_running_loop()
        log_hb(LOG, "info", f"Configuration validated. Starting hbd {__version__} (cluster.conf {self.cfg.path}, "
                            f"cluster {self.conf.name})")
        for problem in self.cfg.problems:
            log_hb(LOG, "WARN", str(problem))
        identity = load_identity(self.opts.state_dir)
        self.membership = MembershipService(self.hacf, self.settings.authkeys, identity)
        self.membership.observers.append(self._membership_action)
        self.escalator = Escalator(self_fence=self._own_fencer(),
                                   submit=lambda work: loop.run_in_executor(None, work))
        delay = fence_delay_s(self.conf)
        for node, plan in self.plans.items():
            if node != self.me:
                self.lanes[node] = FencingLane(LaneSettings(plan, delay_s=delay), self._fence_result,
                                               self._holds_services, lambda n: n in self.departed)
                self.lanes[node].start(loop)
        self.outdate.start(loop)
        control = ControlServer(self.opts.socket, self._request, cm.decode)
        await control.start()
        loop.add_signal_handler(signal.SIGTERM, self.shutdown)
        loop.add_signal_handler(signal.SIGINT, self.shutdown)
        loop.add_signal_handler(signal.SIGHUP, lambda: log_hb(LOG, "WARN", "reload of a cluster.conf is not "
                                                                          "supported yet: restart hbd to apply it"))
        try:
            self.membership.start(loop)
            self.driver.start(loop)
            if self.opts.on_started is not None:
                self.opts.on_started()
            await self.done.wait()
            pending = [t for t in self.stop_clients if not t.done()]
            if pending:
                await asyncio.wait(pending, timeout=2.0)
        finally:
            control.close()
            self.driver.close()
            self.outdate.close()
            for lane in self.lanes.values():
                lane.close()
            self.membership.stop()
            self.alerts.drain()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
        if not self.outcome.restart:
            log_hb(LOG, "info", f"{self.me} hbd shutdown complete.")
        logsetup.flush()
        return self.outcome

    def shutdown(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        log_hb(LOG, "info", f"hbd shutdown in progress. ({os.getpid()})")
        asyncio.get_running_loop().create_task(self._stop_services())

    async def _stop_services(self) -> None:
        if not self.outcome.restart:  # a graceful stop: hand each service over first, as `hbd svc relocate` does
            await self._hand_over()
        results = await self.driver.stop_all(SHUTDOWN_STOP_S)
        for result in results:
            if not result.ok:
                log_hb(LOG, "CRIT", f"Service {result.key} did not stop: {result.reason}; stop it by hand")
        self.done.set()

    async def _hand_over(self) -> None:
        """Ask the coordinator to relocate every service running here, and wait (bounded) for each: the others
        start it at once instead of after this node's death and grace. What is refused (frozen, no other node)
        or not done in time is stopped here next, and starts elsewhere after the grace as before."""
        if self.alive is None or len(self.alive) < 2:
            return
        for name, state in self.driver.node.local.items():
            if state.value not in ("started", "starting"):
                continue
            outcome = await self.driver.admin(AdminRequest(AdminOp.RELOCATE, name), HAND_OVER_S)
            entry = outcome.entry
            where = f" to {entry.owner}" if outcome.result is AdminResult.DONE and entry is not None else ""
            log_hb(LOG, "info", f"Shutdown: service {name} {'handed over' + where if where else 'not handed over'} "
                                f"({outcome.result.value})")

    # --- membership -> services -----------------------------------------------------------------

    def _membership_action(self, action: m.Action) -> None:
        assert self.membership is not None
        self.alerts.membership(action)
        if isinstance(action, m.Deliver):
            self._delivered(action.message)
        elif isinstance(action, m.PeerRestarted):
            self.driver.restarted(action.node)
        elif isinstance(action, m.LocalHeartbeatLost):
            self.outcome.restart, self.outcome.restart_delay_s = True, RESTART_DELAY_S
            self.shutdown()
        if isinstance(action, (m.NodeChanged, m.CommUp, m.PeerReturned, m.PeerRestarted)) and self.membership.core:
            view = self.membership.view()
            if not view.comm_up:
                return  # every node heard or declared dead first (initdead), as Heartbeat's resources wait
            alive = frozenset(n.name for n in view.nodes if n.status != "dead") | {self.me}
            if alive != self.alive:
                self._members(alive)

    def _members(self, alive: frozenset[str]) -> None:
        gone = (self.alive or frozenset()) - alive
        self.alive = alive
        self.departed = (self.departed | gone) - alive
        self.driver.members(alive)
        for node in gone:
            self._fence(node)

    def _delivered(self, message: Any) -> None:
        fields = {k: v for k, v in reversed(message.fields) if isinstance(v, str)}
        if message.type in (REQUEST, REPLY):
            self.outdate.received(fields)  # DRBD resource-level fencing (runtime/outdate_service.py)
            return
        if not service_wire.is_service_type(message.type):
            return
        decoded = service_wire.decode(fields, self.catalog, message.src)
        if isinstance(decoded, service_wire.WireError):
            self.wire_drops += 1
            log_hb(LOG, "ERROR", f"service message from {message.src} dropped: {decoded}")
            return
        generation, seq = message.hex_field("hg"), message.hex_field("seq")
        self.driver.received(decoded, (generation, seq) if generation is not None and seq is not None else None)

    def _send(self, to: str, message: ServiceMessage) -> None:
        assert self.membership is not None and self.membership.core is not None
        body = service_wire.encode(message)
        if isinstance(body, service_wire.WireError):
            log_hb(LOG, "ERROR", f"service message to {to} not sent: {body}")
            return
        self.membership.carry_out([self.membership.core.send(tuple(body), to.lower())])

    def _broadcast(self, body: tuple[tuple[str, str], ...]) -> None:
        assert self.membership is not None
        self.membership.broadcast(body)

    def _drbd_peer_dead(self) -> bool:
        peer = self.peer
        return peer is not None and self.alive is not None and peer.lower() not in {n.lower() for n in self.alive}

    # --- fencing --------------------------------------------------------------------------------

    def _holds_services(self) -> bool:
        return any(st.value not in ("stopped", "disabled") for st in self.driver.node.local.values())

    def _fence(self, node: str) -> None:
        lane = self.lanes.get(node.lower())
        if lane is None or node not in self.departed or not self.driver.quorum.state.quorate or self.stopping:
            return  # no plan: the grace decides; without quorum this partition fences nobody
        lane.request(node)

    def _fence_result(self, event: o.Event) -> None:
        if not isinstance(event, o.Fenced) or event.node not in self.departed:
            return
        if event.ok:
            self.driver.fenced(event.node)
        else:
            asyncio.get_running_loop().call_later(FENCE_RETRY_S, self._fence, event.node)

    def _own_fencer(self) -> Any:
        plan = self.plans.get(self.me)
        if plan is None or not plan.methods:
            return None
        return lambda: fence(plan, "reboot").describe()

    def _self_fence(self, action: SelfFence) -> None:
        how = StopEscalation.FENCE if self.escalator.self_fence is not None else StopEscalation.REBOOT
        self.escalator.carry_out(f"service:{action.service}", how)

    # --- requests -------------------------------------------------------------------------------

    async def _request(self, request: cm.AnyRequest) -> dict[str, Any]:
        match request:
            case cm.StatusRequest():
                return {"ok": True, "status": self.status()}
            case cm.StopRequest():
                task = asyncio.current_task()
                if task is not None:
                    self.stop_clients.append(task)
                held = [n for n, st in self.driver.node.local.items() if st.value not in ("stopped", "disabled")]
                self.shutdown()
                await self.done.wait()
                left = [n for n, st in self.driver.node.local.items() if st.value == "failed"]
                return {"ok": not left, "pid": os.getpid(), "released": [n for n in held if n not in left],
                        "still_held": left, "peer": "the cluster", "restart": self.outcome.restart}
            case cm.CleanupRequest(group):
                return self._cleanup(group)
            case cm.FenceAckRequest(node):
                return self._fence_ack(node)
            case cm.OutdatePeerRequest(resource, timeout_s):  # hbd fence-peer
                if self.peer is None:
                    text = (f"fence-peer {resource}: the cluster has {len(self.catalog.nodes)} nodes, so which one "
                            "is DRBD's peer is not known: nothing outdated")
                    log_hb(LOG, "WARN", f"{text} (exit {EXIT['failed']})")
                    return control_reply(EXIT["failed"], text)
                return control_reply(*await self.outdate.ask_peer(resource, timeout_s))
            case cm.ServiceAdminRequest(op, service, target, timeout_s):  # hbd svc
                outcome = await self.driver.admin(AdminRequest(op, service, target), timeout_s)
                if outcome.result is AdminResult.UNAVAILABLE:
                    return cm.ServiceAdminReply.unavailable(
                        f"service:{service}: this node has not joined the cluster's services yet (its start-up "
                        "stop is under way, or failed: see the log); nothing changed").wire()
                return cm.ServiceAdminReply.of(request, outcome).wire()
            case _:
                return {"ok": False, "text": f"{type(request).__name__.removesuffix('Request').lower()}: not "
                                             "available with cluster.conf (services: hbd svc)"}

    def _fence_ack(self, node: str) -> dict[str, Any]:
        """`hbd fence-ack NODE` (fence_ack_manual): the operator says the departed NODE is down; its grace ends."""
        name = node.lower()
        if name not in self.departed:
            return {"ok": False, "text": f"{node or '(none)'} has not left this node's membership: nothing to "
                                         "acknowledge"}
        lane = self.lanes.get(name)
        if lane is not None:
            ok, text = lane.acknowledge(name)  # its outcome comes back through _fence_result
            return {"ok": ok, "text": text}
        log_hb(LOG, "WARN", f"{name} acknowledged as down by hand (hbd fence-ack): its services may start elsewhere")
        self.driver.fenced(name)
        return {"ok": True, "text": f"{name} acknowledged as down; its services may start elsewhere now"}

    def _cleanup(self, service: object) -> dict[str, Any]:
        names = self.catalog.names
        if service is not None and service not in names:
            return {"ok": False, "text": f"no service {service!r} (services: {', '.join(names) or 'none'})"}
        now = ms(asyncio.get_running_loop().time())
        self.driver.node.recovery.core.handle(r.Cleared(service if isinstance(service, str) else None), now)
        log_hb(LOG, "info", f"Fail counts cleared: {service or 'every service'}")
        return {"ok": True, "text": f"cleared: {service or ', '.join(names)}",
                "cleared": [service] if service else list(names)}

    def status(self) -> dict[str, Any]:
        assert self.membership is not None
        view = self.membership.view()
        phase = "shutting_down" if self.stopping else ("running" if self.driver.ready else "starting")
        out: dict[str, Any] = {
            "schema": 1, "version": __version__, "node": self.me, "pid": os.getpid(),
            "uptime_s": round(time.time() - self.started_wall, 1), "config": self.cfg.path, "phase": phase,
            "stable": self.driver.stable and view.comm_up, "comm_up": view.comm_up,
            "nodes": [{"name": n.name, "status": n.status, "local": n.name == view.local,
                       "age_s": None if n.age_s is None else round(n.age_s, 3), "deadtime_ms": n.deadtime_ms,
                       "links": [{"name": k.name, "up": k.up} for k in n.links]} for n in view.nodes],
            "groups": [], "busy": None, "peer": None, "standby": None, "config_differs": [],
            "transitions": [{"time": time.strftime("%H:%M:%S", time.localtime(wall)), "text": text,
                             "monotonic": round(mono, 6)} for wall, mono, text in self.driver.transitions],
            "heartbeat": self.membership.counters(),
        }
        out.update(self.driver.status())
        if self.lanes:
            out["fencing"] = {node: lane.describe() for node, lane in self.lanes.items()}
        return out
