"""Fencing's own lane: the core's Fence actions run here, on a thread of their own, never behind a stop.

The core asks (`Fence(node)`) and re-asks every `fence_retry_ms` until told `Fenced(node, ok=True)`; it
takes nothing over from a dead peer before that. This lane runs the node's fence plan (hbd.fencing) once
per request, skips a request while an attempt is still running, and feeds the outcome back. An operator
who has made sure the node is down (`hbd fence-ack NODE`, like fence_ack_manual) ends the wait by hand.

The fence delay: when both nodes lose each other while both still run (a cut heartbeat link), each wants
to fence the other. The node that holds no groups waits `delay_s` before its first attempt, so the node
that holds them (and whose service a race would interrupt) fences first and survives.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from hbd.config.model import HaCf
from hbd.config.units import parse_msec
from hbd.core import ownership_types as o
from hbd.fencing.agent import AgentResult
from hbd.fencing.execute import DEFAULT_TIMEOUT_S, FenceOutcome, fence
from hbd.fencing.from_hacf import peer_fencing
from hbd.fencing.model import FencePlan
from hbd.runtime.logsetup import log_hb

LOG = logging.getLogger("hbd.fencing")
DEFAULT_DELAY_S = 5.0
WAITING_FOR_OPERATOR = "waiting for hbd fence-ack"


@dataclass(frozen=True)
class LaneSettings:
    plan: FencePlan
    manual: bool = False  # an operator may confirm by hand (ha.cf `stonith_host * meatware`)
    action: str = "reboot"
    delay_s: float = DEFAULT_DELAY_S
    timeout_s: float = DEFAULT_TIMEOUT_S


class FencingLane:
    def __init__(self, settings: LaneSettings, feed: Callable[[o.Event], None],
                 holds_groups: Callable[[], bool], awaiting: Callable[[str], bool],
                 fencer: Callable[..., FenceOutcome] = fence):
        self.settings = settings
        self.feed = feed
        self.holds_groups = holds_groups  # does this node hold any group right now
        self.awaiting = awaiting  # is the core waiting for this node to be fenced
        self.fencer = fencer
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hbd-fence")
        self.loop: asyncio.AbstractEventLoop | None = None
        self.busy: str | None = None
        self.attempts = 0
        self.last: str = ""  # the last outcome, for `hbd status`
        self._closing = threading.Event()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    # --- requests from the core ---------------------------------------------------------------

    def request(self, node: str) -> None:
        assert self.loop is not None
        if self.busy is not None:
            return  # an attempt is running: its outcome answers this request too
        if not self.settings.plan.methods:
            if self.last == WAITING_FOR_OPERATOR:
                return  # said once per death
            log_hb(LOG, "CRIT", f"STONITH: {node} must be fenced and no fence device is configured for it: "
                                f"waiting for an operator (after making sure {node} is down: hbd fence-ack {node})")
            self.last = WAITING_FOR_OPERATOR
            return
        delay = self.settings.delay_s if self.attempts == 0 and not self.holds_groups() else 0.0
        self.busy = node
        self.attempts += 1
        if delay:
            log_hb(LOG, "info", f"STONITH: waiting {delay:g} s before fencing {node} (this node holds no "
                                "groups: the node that holds them fences first)")
        log_hb(LOG, "info", f"STONITH: fencing {node} ({self.settings.action}), attempt {self.attempts}: "
                            f"{self.settings.plan.describe()}")
        future = self.loop.run_in_executor(self.worker, self._run, node, delay)
        future.add_done_callback(lambda f: self._done(node, f))

    def _run(self, node: str, delay: float) -> FenceOutcome:
        if delay and self._closing.wait(delay):
            return FenceOutcome(node, False)
        return self.fencer(self.settings.plan, self.settings.action, timeout_s=self.settings.timeout_s,
                           log=self._log_run)

    def _log_run(self, result: AgentResult) -> None:
        level = "info" if result.ok else "ERROR"
        log_hb(LOG, level, f"STONITH: {result.describe()}")

    def _done(self, node: str, future: "asyncio.Future[FenceOutcome]") -> None:
        self.busy = None
        try:
            outcome = future.result()
        except Exception as exc:  # a bug in the fencing code: the node is not fenced
            LOG.exception("fencing %s failed (bug)", node, extra={"hb_level": "ERROR"})
            outcome = FenceOutcome(node, False)
            self.last = f"internal error: {exc}"
        if self._closing.is_set():
            return
        if outcome.ok:
            self.attempts = 0
            self.last = outcome.describe()
            log_hb(LOG, "info", f"STONITH: {outcome.describe()}")
        else:
            self.last = outcome.describe()
            log_hb(LOG, "ERROR", f"STONITH: {outcome.describe()}; no takeover until {node} is fenced "
                                 f"(or, after making sure it is down: hbd fence-ack {node})")
        self.feed(o.Fenced(node, outcome.ok))

    # --- the operator ---------------------------------------------------------------------------

    def acknowledge(self, node: str) -> tuple[bool, str]:
        """`hbd fence-ack NODE`: the operator says NODE is down; accepted only while fencing it is pending."""
        if not self.awaiting(node):
            return False, f"{node} is not waiting to be fenced: nothing acknowledged"
        log_hb(LOG, "WARN", f"STONITH: fencing of {node} acknowledged by hand (hbd fence-ack): "
                            "taking over as if it had been fenced")
        self.last = "acknowledged by hand"
        self.attempts = 0
        self.feed(o.Fenced(node, True))
        return True, f"fencing of {node} acknowledged; this node takes over its groups"

    def describe(self) -> dict[str, object]:
        return {"plan": self.settings.plan.describe() or "none (hbd fence-ack only)",
                "running": self.busy, "attempts": self.attempts, "last": self.last}

    def close(self) -> None:
        self._closing.set()
        self.worker.shutdown(wait=False, cancel_futures=True)




def lane_settings(hacf: HaCf) -> LaneSettings | None:
    """The lane for fencing the peer as ha.cf's `stonith_host` lines describe it; None without fencing."""
    if len(hacf.peers) != 1:
        return None
    fencing = peer_fencing(hacf, hacf.peers[0])
    if not fencing.configured:
        return None
    delays = [d.value for d in hacf.directives if d.name == "fence_delay"]
    delay_s = parse_msec(delays[-1])[0] / 1000 if delays else DEFAULT_DELAY_S
    return LaneSettings(fencing.plan, manual=fencing.manual, delay_s=delay_s)
