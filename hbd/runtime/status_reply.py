"""What `hbd status` and /metrics show of a running daemon: the cores' frozen views (status.py) and the
state of each lane beside them (fencing, DRBD, the heartbeat counters, ping nodes, monitoring)."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from hbd.config import LoadedConfig
from hbd.core.ipfail import Connectivity
from hbd.core.ownership_view import OwnershipView
from hbd.runtime import drbd_status, ping_status, status
from hbd.runtime.fencing_lane import FencingLane
from hbd.runtime.groups import GroupRunner
from hbd.runtime.logsetup import log_hb
from hbd.runtime.membership_service import MembershipService
from hbd.runtime.metrics import Metrics, MetricsServer, PrometheusCollector, parse_listen
from hbd.runtime.monitor_lane import MonitorLane
from hbd.runtime.ownership_driver import OwnershipDriver
from hbd.runtime.ping_monitor import PingMonitor

LOG = logging.getLogger("hbd.daemon")  # the daemon's lines


async def full_status(view: OwnershipView, membership: MembershipService, driver: OwnershipDriver, *,
                      started_wall: float, cfg: LoadedConfig, runner: GroupRunner, fencing: FencingLane | None,
                      ping: PingMonitor | None, connectivity: Connectivity | None,
                      monitoring: MonitorLane | None, vip_links: dict[str, Any] | None = None) -> dict[str, Any]:
    """`hbd status`'s answer (a lane that is not running here is left out)."""
    built = status.build(view, membership.view(), list(driver.transitions), started_wall=started_wall,
                         config_path=cfg.path, resources=runner.resource_states())
    if fencing is not None:
        built["fencing"] = fencing.describe()
    resources = drbd_status.resources_of(cfg.heartbeat)  # type: ignore[arg-type]
    if resources:
        loop = asyncio.get_running_loop()
        built["drbd"] = list(await asyncio.gather(
            *(loop.run_in_executor(None, drbd_status.query, r) for r in resources)))
    built["heartbeat"] = membership.counters()  # packets accepted/dropped, loop and GC delays
    if ping is not None and connectivity is not None:
        built["ping"] = ping_status.block(ping.describe(), connectivity)
    if vip_links is not None:  # the carrier of the VIP interfaces (link_status.py)
        built["vip_links"] = vip_links
    if monitoring is not None:
        monitored = monitoring.describe()
        for group in built["groups"]:
            group["monitor"] = monitored.get(group["key"])
    return built


def metrics_state(view: OwnershipView, membership: MembershipService, *, started_wall: float,
                  config_path: str) -> dict[str, Any]:
    """The nodes and groups /metrics exports."""
    st = status.build(view, membership.view(), [], started_wall=started_wall, config_path=config_path)
    return {"nodes": st["nodes"], "groups": st["groups"]}


async def serve_metrics(listen: str | None, metrics: Metrics,
                        state: Callable[[], dict[str, Any]]) -> MetricsServer | None:
    """/metrics when asked for (--metrics); a port that cannot be opened is logged, the daemon runs on."""
    if not listen:
        return None
    try:
        host, port = parse_listen(listen)
        server = MetricsServer(PrometheusCollector(metrics, state))
        await server.start(host, port)
    except (ValueError, OSError, ImportError) as exc:
        log_hb(LOG, "ERROR", f"metrics not served: {exc}")
        return None
    log_hb(LOG, "info", f"metrics served on http://{host}:{port}/metrics")
    return server
