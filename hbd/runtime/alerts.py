"""Alert scripts: the admin's programs run on cluster events (ha.cf `alert PATH`, hbd's own directive).

Each event runs every configured script, one run at a time, in event order, each with a timeout
(`alert_timeout`, default 30 s; a script still running then is killed with its process group). A failing
or hanging script is logged and never holds up the daemon: the runs happen on a thread of their own.
The event is in the environment (documented in doc/alerts.md):

  HBD_ALERT_KIND       node | resource | fencing | split_brain
  HBD_ALERT_EVENT      node: dead, up; resource: start, started, start_failed, recovered, stop, stopped,
                       stop_failed, stop_failed_for_good; fencing: fenced, fence_failed; split_brain: returned, double_ownership,
                       drbd_standalone, drbd_connected (runtime/drbd_splitbrain.py)
  HBD_ALERT_NODE       the node concerned (the peer for node and fencing events, this node for resources)
  HBD_ALERT_GROUP      the resource group (resource events)
  HBD_ALERT_DESC       a sentence for people (why a start happened, what failed)
  HBD_ALERT_LOCAL_NODE, HBD_ALERT_SEQUENCE (1, 2, ... per daemon run), HBD_ALERT_TIMESTAMP (ISO 8601, UTC)
plus Pacemaker's CRM_alert_kind, _node, _rsc, _task, _desc, _rc, _timestamp, _version and _recipient
(the script's path), so that a script written for `pcs alert` runs unchanged.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

from hbd import __version__
from hbd.config.model import HaCf
from hbd.config.units import parse_msec
from hbd.core import membership_events as m
from hbd.core import ownership_types as o
from hbd.core.service_events import DoubleOwnership
from hbd.runtime.logsetup import log_hb

LOG = logging.getLogger("hbd.alerts")
DEFAULT_TIMEOUT_S = 30.0
KILL_WAIT_S = 5.0
PACEMAKER_KIND = {"node": "node", "resource": "resource", "fencing": "fencing", "split_brain": "node"}


@dataclass(frozen=True)
class Alert:
    kind: str
    event: str
    node: str = ""
    group: str = ""
    desc: str = ""
    rc: int = 0


def settings_of(hacf: HaCf) -> tuple[tuple[str, ...], float]:
    """The `alert` scripts in file order and the `alert_timeout` (last one wins)."""
    scripts = tuple(d.value for d in hacf.directives if d.name == "alert")
    timeouts = [d.value for d in hacf.directives if d.name == "alert_timeout"]
    return scripts, (parse_msec(timeouts[-1])[0] / 1000 if timeouts else DEFAULT_TIMEOUT_S)


class AlertRunner:
    def __init__(self, scripts: Sequence[str], timeout_s: float, local_node: str, peer: str):
        self.scripts = tuple(scripts)
        self.timeout_s = timeout_s
        self.local_node, self.peer = local_node, peer
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hbd-alerts")  # one at a time, in order
        self.sequence = 0
        self.failed_groups: set[str] = set()
        self.lock = threading.Lock()

    # --- what the daemon sees -> alerts -----------------------------------------------------------

    def ownership(self, item: object) -> None:
        """An action the driver carries out, or a result fed back to the core."""
        me = self.local_node
        if isinstance(item, o.StartGroup):
            self.emit(Alert("resource", "start", me, item.key, item.reason))
        elif isinstance(item, o.StopGroup):
            if item.cause is o.Cause.DOUBLE_OWNERSHIP:  # a healed partition: the peer keeps it (doc/split-brain.md)
                self.emit(Alert("split_brain", "double_ownership", me, item.key,
                                f"{self.peer} holds {item.key} too and keeps it: stopping it here", rc=1))
            self.emit(Alert("resource", "stop", me, item.key, item.reason))
        elif isinstance(item, o.GroupStarted):
            if not item.ok:
                self.failed_groups.add(item.key)
                self.emit(Alert("resource", "start_failed", me, item.key, item.reason, rc=1))
            elif item.key in self.failed_groups:
                self.failed_groups.discard(item.key)
                self.emit(Alert("resource", "recovered", me, item.key, "started after an earlier failure"))
            else:
                self.emit(Alert("resource", "started", me, item.key))
        elif isinstance(item, o.GroupStopped):
            self.emit(Alert("resource", "stopped" if item.ok else "stop_failed", me, item.key, item.reason,
                            rc=0 if item.ok else 1))
        elif isinstance(item, o.StopFailedForGood):
            self.emit(Alert("resource", "stop_failed_for_good", me, item.key,
                            "the stop failed after every retry: the group may still run here", rc=1))
        elif isinstance(item, o.Fenced):
            self.emit(Alert("fencing", "fenced" if item.ok else "fence_failed", item.node,
                            desc="" if item.ok else "no takeover until it is fenced", rc=0 if item.ok else 1))

    def service(self, action: object) -> None:
        """A services core action (cluster.conf mode): the double ownership found after a partition."""
        if isinstance(action, DoubleOwnership) and action.keeper != self.local_node:
            self.emit(Alert("split_brain", "double_ownership", self.local_node, action.service,
                            f"{action.keeper or 'no node'} holds {action.service} too and keeps it: stopping it here",
                            rc=1))

    def membership(self, action: m.Action) -> None:
        if isinstance(action, m.NodeChanged) and action.node == self.peer:
            if action.status == "dead":
                self.emit(Alert("node", "dead", action.node, desc=f"{action.node} is dead"))
            elif action.status == "active":
                self.emit(Alert("node", "up", action.node, desc=f"{action.node} is active"))
        elif isinstance(action, m.PeerReturned) and action.node == self.peer:
            self.emit(Alert("split_brain", "returned", action.node,
                            desc=f"{action.node} returned after a partition: both nodes may have run the groups"))

    # --- running the scripts ----------------------------------------------------------------------

    def emit(self, alert: Alert) -> None:
        if not self.scripts:
            return
        with self.lock:
            self.sequence += 1
            sequence = self.sequence
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.worker.submit(self._run_all, alert, sequence, stamp)

    def environment(self, alert: Alert, sequence: int, stamp: str, script: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HBD_ALERT_", "CRM_alert_"))}
        env.update({
            "HBD_ALERT_KIND": alert.kind, "HBD_ALERT_EVENT": alert.event, "HBD_ALERT_NODE": alert.node,
            "HBD_ALERT_GROUP": alert.group, "HBD_ALERT_DESC": alert.desc, "HBD_ALERT_LOCAL_NODE": self.local_node,
            "HBD_ALERT_SEQUENCE": str(sequence), "HBD_ALERT_TIMESTAMP": stamp,
            "CRM_alert_kind": PACEMAKER_KIND[alert.kind], "CRM_alert_node": alert.node,
            "CRM_alert_rsc": alert.group, "CRM_alert_task": alert.event, "CRM_alert_desc": alert.desc,
            "CRM_alert_rc": str(alert.rc), "CRM_alert_timestamp": stamp, "CRM_alert_version": __version__,
            "CRM_alert_recipient": script, "CRM_alert_node_sequence": str(sequence),
        })
        return env

    def _run_all(self, alert: Alert, sequence: int, stamp: str) -> None:
        for script in self.scripts:
            self._run_one(script, self.environment(alert, sequence, stamp, script), alert)

    def _run_one(self, script: str, env: dict[str, str], alert: Alert) -> None:
        what = f"alert {script} ({alert.kind} {alert.event})"
        try:
            proc = subprocess.Popen([script], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            log_hb(LOG, "ERROR", f"{what}: cannot run: {exc.strerror or exc}")
            return
        try:
            out, _ = proc.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                proc.communicate(timeout=KILL_WAIT_S)
            except subprocess.TimeoutExpired:
                pass
            log_hb(LOG, "ERROR", f"{what}: still running after {self.timeout_s:g} s: killed")
            return
        if proc.returncode != 0:
            tail = (out or b"").decode(errors="replace").strip().splitlines()[-1:] or [""]
            log_hb(LOG, "WARN", f"{what}: exit {proc.returncode} {tail[0][:200]}".rstrip())

    def drain(self, timeout_s: float = 5.0) -> None:
        """Wait (bounded) for the queued runs, then stop taking new ones."""
        done = threading.Event()
        self.worker.submit(done.set)
        done.wait(timeout_s)
        self.worker.shutdown(wait=False, cancel_futures=True)
