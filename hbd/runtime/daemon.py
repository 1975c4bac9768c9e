"""The daemon's skeleton: builds the parts, owns the loop, signals, reload and shutdown; decides nothing.

Signals only set what is asked (TERM: graceful shutdown; HUP: reload as Heartbeat does, heartbeat.md §7.7).
Reload (decided in config_reload.py from the difference of the models): nothing changed -> `Configuration
unchanged.`; only authkeys or alert scripts changed -> swapped in place; other changes -> the daemon
re-executes itself and keeps its resources (the restarted daemon's start-up probe finds them running), like
Heartbeat's `-R` restart. What `hbd status` shows: status_reply.py; the watchdogs' kicks: watchdog_kicks.py.
The decisions (membership, ownership, own-heartbeat loss, the pre-probe's timing) are one pure node core
(hbd/core/node.py), shared by the heartbeat layer and the ownership driver (runtime/bridge.py); the daemon
carries out its actions.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, assert_never

from hbd import __version__
from hbd.config import LoadedConfig, service_roots
from hbd.config import reload_diff
from hbd.config.rules import child_type_table
from hbd.core import membership_events as m
from hbd.core import node_events as n
from hbd.core import ownership_types as o
from hbd.core.node import NodeCore
from hbd.core.ownership_view import OwnershipView
from hbd.runtime import logsetup, status
from hbd.runtime.bridge import OWNERSHIP_ACTIONS, Bridge, describe, ms, node_config
from hbd.runtime import control_messages as cm
from hbd.runtime.control import ControlServer
from hbd.runtime.control_messages import ReloadReply
from hbd.runtime import config_reload
from hbd.runtime.config_reload import check_runnable as check_runnable  # hbd.cli.daemon_cmd uses it
from hbd.runtime import status_reply
from hbd.runtime.fencing_lane import FencingLane, lane_settings
from hbd.runtime.alerts import AlertRunner, settings_of
from hbd.runtime.outdate_service import REPLY, REQUEST, OutdateService, control_reply
from hbd.runtime import drbd_status
from hbd.runtime.drbd_splitbrain import SplitBrainWatch
from hbd.runtime import splitbrain_service as sb
from hbd.runtime.watchdog_kicks import notify_watchdog, open_watchdog_device
from hbd.runtime.groups import GroupRunner, Timeouts
from hbd.runtime.stop_escalation import self_fencer
from hbd.runtime.stop_escalation import settings_of as stop_settings
from hbd.runtime.logsetup import log_hb
from hbd.runtime.metrics import Metrics
from hbd.runtime.membership_service import MembershipService
from hbd.runtime.notify import Notifier, watchdog_interval_s
from hbd.runtime.ownership_driver import OwnershipDriver
from hbd.runtime.ping_monitor import PingMonitor, PingTargets
from hbd.runtime import link_monitor, link_status
from hbd.core.link_rule import VipCarrier
from hbd.runtime.monitor_lane import MonitorLane
from hbd.config.monitoring import settings_of as monitor_settings
from hbd.runtime.preprobe import PreProbe
from hbd.runtime.process import go_realtime
from hbd.runtime.state import load_identity

LOG = logging.getLogger("hbd.daemon")
# Threads' stacks: glibc's default is 8 MiB, and under mlockall (realtime) every page of it is resident.
THREAD_STACK_BYTES = 1 << 20
RESTART_REPLY_GRACE_S = 0.05  # let the answer to `hbd reload` leave before the re-exec
STOP_REPLY_GRACE_S = 2.0  # at most this long for the answers to `hbd stop` to be written


@dataclass
class Options:
    config_dir: Path
    node: str | None
    socket: Path
    state_dir: Path
    on_stop_failure: str = "none"
    on_started: Callable[[], None] | None = None  # media and control socket open (daemonizing parent waits)
    metrics: str | None = None  # [ADDR:]PORT to serve /metrics on; None: off


@dataclass
class Outcome:
    code: int = 0
    restart: bool = False  # re-execute the daemon (reload of ha.cf/haresources, lost own heartbeat)
    restart_delay_s: float = 0.0


@dataclass
class Daemon:
    cfg: LoadedConfig
    opts: Options
    outcome: Outcome = field(default_factory=Outcome)

    def __post_init__(self) -> None:
        self.warnings = (*self.cfg.problems, *check_runnable(self.cfg))  # logged at every start
        assert self.cfg.heartbeat is not None
        hb = self.cfg.heartbeat
        self.hacf = hb.hacf
        self.me, self.peer = self.hacf.local_node, self.hacf.peers[0]
        self.started_wall = time.time()
        roots = {g.key: root for g, root in zip(hb.groups, service_roots(self.cfg))}
        self.roots = roots
        self.stops = stop_settings(self.hacf)  # stop timeout, retries, escalation (doc/daemon.md)
        self.runner = GroupRunner(roots, child_type_table(), timeouts=Timeouts(stop_s=self.stops.timeout_s))
        self.preprobe = PreProbe(roots)
        self.node_config = node_config(self.cfg, frozenset(k for k, v in self.preprobe.vips.items() if v),
                                       frozenset({REQUEST, REPLY}) | sb.MESSAGE_TYPES)
        self.bridge: Bridge | None = None
        self.node: NodeCore  # the composed node core, once run() has built it
        self.notifier = Notifier()
        self.done = asyncio.Event()
        self.membership: MembershipService | None = None
        self.driver: OwnershipDriver | None = None
        self.fencing: FencingLane | None = None
        self.ping: PingMonitor | None = None
        self.links: link_monitor.LinkMonitor | None = None
        self.monitoring: MonitorLane | None = None
        self.stop_clients: list[asyncio.Task[Any]] = []

    # --- run ------------------------------------------------------------------------------------

    async def run(self) -> Outcome:
        loop = asyncio.get_running_loop()
        log_hb(LOG, "info", f"Configuration validated. Starting hbd {__version__}")
        for problem in self.warnings:
            log_hb(LOG, "WARN", str(problem))
        if self.hacf.auto_failback == "legacy":
            log_hb(LOG, "WARN", "auto_failback legacy is run as 'on': Heartbeat's legacy ip-request mode races "
                                "into double ownership (set auto_failback on or off on both nodes)")
        if self.roots and lane_settings(self.hacf) is None and not (self.hacf.ping_nodes or self.hacf.ping_groups):
            log_hb(LOG, "WARN", "No fencing (stonith_host) and no ping nodes: if every medium is cut, both nodes "
                                "take over the groups (split brain; doc/split-brain.md)")
        threading.stack_size(THREAD_STACK_BYTES)
        if self.hacf.realtime:
            for level, text in go_realtime():
                log_hb(LOG, level, text)
        identity = load_identity(self.opts.state_dir)
        self.membership = MembershipService(self.hacf, self.cfg.heartbeat.authkeys, identity)  # type: ignore[union-attr]
        self.bridge = Bridge(self.node_config, loop.time(), identity.generation)
        self.node = self.bridge.node  # the composed core: the daemon reads only its frozen views
        self.driver = OwnershipDriver(self.bridge.ownership_facade(), self.runner,  # type: ignore[arg-type]
                                      self.membership.broadcast,
                                      on_stop_failure=self.opts.on_stop_failure,
                                      on_shutdown_complete=self.done.set, on_change=self._changed,
                                      on_fence=self._fence,
                                      self_fence=self_fencer(self.hacf))
        self.preprobe.on_verdicts = functools.partial(self._preprobe_heard, loop)  # from the prober thread
        fence_settings = lane_settings(self.hacf)
        if fence_settings is not None:
            self.fencing = FencingLane(fence_settings, self.driver.feed, lambda: bool(self._view().held),
                                       self._awaiting_fence)
            self.fencing.start(loop)
        node = self.bridge.node
        self.outdate = OutdateService(self.membership.broadcast, lambda: node.peer_dead)
        self.bridge.carry_membership = self.membership.carry_out
        self.bridge.carry_ownership = self.driver.carry_out
        self.bridge.on_node_action = self._node_action
        self.alerts = AlertRunner(*settings_of(self.hacf), self.me, self.peer)
        self.driver.watchers.append(self.alerts.ownership)
        self.outdate.start(loop)
        self.drbd_watch = SplitBrainWatch(drbd_status.resources_of(self.cfg.heartbeat),  # type: ignore[arg-type]
                                          drbd_status.query, self.alerts.emit, self.me)
        self.drbd_watch.start(loop)  # StandAlone DRBD connections: CRIT log and alert (doc/split-brain.md)
        self.splitbrain = sb.SplitBrainService(self.membership.broadcast, lambda: node.peer_dead, self.me, self.peer,
                                               sb.uses_of(self.cfg.heartbeat),  # type: ignore[arg-type]
                                               lambda: sb.active_groups(self._view()))
        self.splitbrain.start(loop)  # hbd splitbrain status|plan|resolve, on both nodes
        self.membership.observers.append(self._membership_action)
        self.membership.observers.append(self.bridge.route)  # after: alerts keep the order of events
        timing = self.hacf.timing
        self.metrics = Metrics(self.me, timing.keepalive_ms, timing.warntime_ms, timing.deadtime_ms)
        self.membership.heartbeat_hooks.append(self.metrics.heartbeat)
        self.driver.watchers.append(self.metrics.driver_item)
        control = ControlServer(self.opts.socket, self._request, cm.decode)
        await control.start()
        metrics_server = await status_reply.serve_metrics(self.opts.metrics, self.metrics, self._metrics_state)
        loop.add_signal_handler(signal.SIGTERM, self.shutdown)
        loop.add_signal_handler(signal.SIGINT, self.shutdown)
        loop.add_signal_handler(signal.SIGHUP, self._reload_signal)
        watchdog = watchdog_interval_s()
        try:
            self.membership.start(loop, self.bridge.membership_facade())
            self.driver.start(loop)
            self.monitoring = MonitorLane(self.roots, self.runner, monitor_settings(self.hacf), self.bridge,
                                          self.driver)
            self.monitoring.start(loop)  # status checks of running resources (doc/monitoring.md)
            targets = PingTargets.from_hacf(self.hacf)
            if targets.nodes:  # connectivity for the isolation rule (doc/daemon.md)
                self.ping = PingMonitor(targets, self._ping_changed)
                self.ping.start(loop)
            if link_monitor.enabled(self.hacf):  # carrier of the VIP interfaces (doc/monitoring.md)
                self.links = link_monitor.LinkMonitor(self.roots, self.runner.resolve, self._ping_changed)
                self.links.start(loop)
            if self.opts.on_started is not None:
                self.opts.on_started()
            loop.run_in_executor(None, self.preprobe.prepare)  # where each VIP lives, ahead of any suspicion
            if watchdog:
                notify_watchdog(self.notifier, loop, watchdog)
            device = open_watchdog_device(self.hacf, loop)
            await self.done.wait()
            await self._answer_stop_requests()
            if device is not None:
                device.close()  # the magic close: only a clean exit (or re-exec) disarms it
        finally:
            self.notifier.stopping()
            control.close()
            if metrics_server is not None:
                metrics_server.close()
            self.membership.stop()
            if self.ping is not None:
                self.ping.close()
            if self.links is not None:
                self.links.close()
            if self.monitoring is not None:
                self.monitoring.close()
            self.driver.close()
            if self.fencing is not None:
                self.fencing.close()
            self.outdate.close()
            self.drbd_watch.close()
            self.splitbrain.close()
            self.alerts.drain()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
        if not self.outcome.restart:
            log_hb(LOG, "info", f"{self.me} hbd shutdown complete.")
        logsetup.flush()  # the log is written by a thread: everything out before a re-exec or exit
        return self.outcome

    # --- fencing --------------------------------------------------------------------------------

    def _fence(self, node: str) -> None:
        if self.fencing is not None:
            self.fencing.request(node)

    def _awaiting_fence(self, node: str) -> bool:
        return node == self.peer and self._view().awaiting_fence

    def _view(self) -> OwnershipView:
        return self.node.ownership_view()

    def _fence_ack(self, node: str) -> dict[str, Any]:
        if self.fencing is None:
            return {"ok": False, "text": "no fencing is configured (stonith_host in ha.cf): nothing to acknowledge"}
        if node != self.peer:
            return {"ok": False, "text": f"{node or '(none)'} is not the peer of this node ({self.peer})"}
        ok, text = self.fencing.acknowledge(node)
        return {"ok": ok, "text": text}

    # --- membership -> ownership ----------------------------------------------------------------

    def _membership_action(self, action: m.Action) -> None:
        """The heartbeat layer's actions, told to the alert scripts and the transition list."""
        assert self.driver is not None
        self.alerts.membership(action)
        if isinstance(action, m.PeerReturned) or (isinstance(action, m.NodeChanged) and action.status == "active"):
            self.drbd_watch.peer_back()  # DRBD reconnects now, or finds a split brain
        if isinstance(action, (m.NodeChanged, m.PeerRestarted, m.PeerReturned, m.LinkChanged)):
            self.driver.note(describe(action))

    def _node_action(self, action: n.Action) -> None:
        """The node core's own actions: a pre-probe round, a restart, another service's message."""
        assert self.driver is not None
        if isinstance(action, n.ProbeNow):
            self.preprobe.start_round(action.groups, action.window_ms / 1000, action.lead_ms / 1000)
        elif isinstance(action, n.Restart):
            self.driver.note("isolated (no ping node, no peer): giving up every group, then restarting"
                             if action.isolated else "own heartbeat lost: giving up every group, then restarting")
            log_hb(LOG, "info", f"hbd shutdown in progress. ({os.getpid()})")
            self.outcome.restart = True
            self.outcome.restart_delay_s = action.delay_ms / 1000
        elif isinstance(action, n.Delivered):
            # DRBD resource-level fencing (outdate_service.py), then hbd splitbrain (splitbrain_service.py)
            self.outdate.received(action.fields) or self.splitbrain.received(action.fields)
        elif self.monitoring is not None:
            self.monitoring.node_action(action)  # a restart in place

    def _ping_changed(self, report: frozenset[str] | VipCarrier) -> None:
        """The ping or link monitor's report, a node core event like a heartbeat's (its actions are carried out)."""
        assert self.driver is not None and self.bridge is not None
        event = report if isinstance(report, VipCarrier) else n.PingReachability(report)
        self.driver.carry_out(self.bridge.step(event, ms(asyncio.get_running_loop().time()), OWNERSHIP_ACTIONS))

    def _preprobe_heard(self, loop: asyncio.AbstractEventLoop, verdicts: list[n.PreProbeVerdict]) -> None:
        """What a pre-probe round heard (the prober thread): node core events, stepped on the loop."""
        def step() -> None:
            assert self.driver is not None and self.bridge is not None
            for verdict in verdicts:
                self.driver.carry_out(self.bridge.step(verdict, ms(loop.time()), OWNERSHIP_ACTIONS))
        if not loop.is_closed():
            loop.call_soon_threadsafe(step)

    def _changed(self) -> None:
        if self.membership is None or self.membership.core is None:
            return
        text = status.summary(self._view(), self.membership.view())
        if self.driver is not None and self.driver.probed:
            self.notifier.ready(text)
        self.notifier.status(text)

    # --- requests -------------------------------------------------------------------------------

    def shutdown(self) -> None:
        assert self.driver is not None
        if self._view().phase in (o.Phase.SHUTTING_DOWN, o.Phase.DOWN):
            return
        log_hb(LOG, "info", f"hbd shutdown in progress. ({os.getpid()})")
        if self._view().busy:
            log_hb(LOG, "WARN", "Shutdown delayed until current resource activity finishes.")
        self.driver.feed(o.ShutdownRequested())

    async def _request(self, request: cm.AnyRequest) -> dict[str, Any]:
        """One control request, decoded and checked by control_messages.decode before it gets here."""
        assert self.membership is not None and self.driver is not None
        match request:
            case cm.ServiceAdminRequest(_, service, _, _):  # hbd svc: services run from cluster.conf only
                return cm.ServiceAdminReply.unavailable(f"service:{service}: hbd svc needs the cluster.conf daemon "
                                                        "(services from <rm>); this one runs haresources").wire()
            case cm.StatusRequest():
                return {"ok": True, "status": await self._status()}
            case cm.HandoverRequest(kind, which, timeout_s):
                log_hb(LOG, "info", f"{'Going standby' if kind == 'standby' else 'Taking over'} [{which}].")
                reply = await self.driver.admin(kind, which, timeout_s)
                return {"ok": reply.ok, "text": reply.text}
            case cm.OutdatePeerRequest(resource, timeout_s):
                code, text = await self.outdate.ask_peer(resource, timeout_s)
                return control_reply(code, text)
            case cm.CleanupRequest(group):  # hbd resource cleanup [GROUP]
                if self.monitoring is None:
                    return {"ok": False, "text": "not ready"}
                return self.monitoring.cleanup(group)
            case cm.FenceAckRequest(node):
                return self._fence_ack(node)
            case cm.SplitBrainRequest(op, resource, keep):  # hbd splitbrain (doc/split-brain.md)
                return await self.splitbrain.request(op, resource, keep)
            case cm.IntervalsRequest():  # hbd advise
                return {"ok": True, "intervals": self.metrics.intervals_snapshot()}
            case cm.ReloadRequest():
                return self.reload().wire()
            case cm.StopRequest():
                return await self._stop_request()
            case _:
                assert_never(request)

    async def _status(self) -> dict[str, Any]:
        assert self.membership is not None and self.driver is not None
        built = await status_reply.full_status(
            self._view(), self.membership, self.driver, started_wall=self.started_wall, cfg=self.cfg,
            runner=self.runner, fencing=self.fencing, ping=self.ping,
            connectivity=self.bridge.node.connectivity if self.bridge is not None else None,
            monitoring=self.monitoring,
            vip_links=link_status.of(self.links, self.bridge.node.links if self.bridge is not None else None,
                                     self.node_config.topology))
        self.drbd_watch.seen(built.get("drbd", []))
        return built

    def _metrics_state(self) -> dict[str, Any]:
        assert self.membership is not None and self.driver is not None
        return status_reply.metrics_state(self._view(), self.membership, started_wall=self.started_wall,
                                          config_path=self.cfg.path)

    async def _stop_request(self) -> dict[str, Any]:
        """`hbd stop`: the graceful shutdown of SIGTERM, answered once every group is released (or is not)."""
        view = self._view()
        held_before = view.topology.ordered(view.held)
        task = asyncio.current_task()
        if task is not None:
            self.stop_clients.append(task)
        self.shutdown()
        await self.done.wait()
        view = self._view()
        left = view.topology.ordered(view.held)
        released = [k for k in held_before if k not in left]
        return {"ok": not left, "pid": os.getpid(), "released": released, "still_held": left,
                "peer": self.peer, "restart": self.outcome.restart}

    async def _answer_stop_requests(self) -> None:
        """Let the answers to `hbd stop` leave before the loop ends (bounded: a client that does not read loses it)."""
        pending = [t for t in self.stop_clients if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=STOP_REPLY_GRACE_S)

    def _reload_signal(self) -> None:
        self.reload()

    def reload(self) -> ReloadReply:
        """`hbd reload`, SIGHUP: apply the difference of the running and the new models (config_reload.py), or
        nothing at all when the new configuration is unusable or a change cannot be applied now."""
        assert self.membership is not None and self.cfg.heartbeat is not None
        logsetup.reopen()  # first: logrotate may have moved the files away (SIGHUP, `hbd reload`)
        view = self._view()
        step = config_reload.prepare(self.opts.config_dir, self.opts.node, self.cfg.heartbeat, view.held,
                                     view.in_flux)
        if step.restart:
            self.outcome.restart = True
            asyncio.get_running_loop().call_later(RESTART_REPLY_GRACE_S, self.done.set)
        elif step.live is not None and step.live.heartbeat is not None:
            new = step.live.heartbeat
            if step.applies(reload_diff.Area.AUTHKEYS):
                self.membership.keys = new.authkeys
                log_hb(LOG, "info", "authkeys re-read.")
            if step.applies(reload_diff.Area.ALERTS):
                self.alerts.scripts, self.alerts.timeout_s = settings_of(new.hacf)
                log_hb(LOG, "info", "alert scripts re-read.")
            self.cfg, self.hacf = step.live, new.hacf
        return step.reply
