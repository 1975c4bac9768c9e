"""Drives the pure ownership core on the event loop: feeds it events, carries out its actions, ticks it.

Group operations go to one worker thread (agents block); their results come back to the loop as
GroupStarted / GroupStopped events. Until the start-up probe has said which groups already run here
(`Probed`), every other event waits in a queue, so the core's first event is always Probed.
"""
from __future__ import annotations

import asyncio
import collections
import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from hbd.agents.base import StartOptions
from hbd.core import ownership_types as o
from hbd.core.ownership import Ownership
from hbd.runtime.groups import GroupResult, GroupRunner, ProbeResult
from hbd.runtime.logsetup import log_hb
from hbd.runtime.stop_escalation import Escalator

LOG = logging.getLogger("hbd.resources")
MAX_TRANSITIONS = 40


@dataclass(frozen=True)
class Transition:
    wall: float  # time.time(), for people
    text: str
    mono: float = 0.0  # time.monotonic(), to line up with other processes' measurements (benches)


class OwnershipDriver:
    def __init__(self, core: Ownership, runner: GroupRunner, send: Callable[[tuple[tuple[str, str], ...]], None],
                 *, on_stop_failure: str = "none", on_shutdown_complete: Callable[[], None] = lambda: None,
                 on_change: Callable[[], None] = lambda: None,
                 on_fence: Callable[[str], None] | None = None, self_fence: Callable[[], str] | None = None):
        self.core = core
        self.runner = runner
        self.send = send
        self.on_stop_failure = on_stop_failure
        self.on_shutdown_complete = on_shutdown_complete
        self.on_change = on_change
        self.on_fence = on_fence  # the fencing lane (hbd/runtime/fencing_lane.py), when fencing is configured
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hbd-groups")
        # after a stop that failed for good (hbd/runtime/stop_escalation.py)
        self.escalator = Escalator(reboot_requested=on_stop_failure == "reboot", self_fence=self_fence,
                                   submit=self.worker.submit)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.probed = False
        self.pending: list[o.Event] = []
        self.replies: dict[int, asyncio.Future[o.AdminReply]] = {}
        self.next_request = 1
        self.transitions: collections.deque[Transition] = collections.deque(maxlen=MAX_TRANSITIONS)
        self._timer: asyncio.TimerHandle | None = None
        self.view = core.view()  # the core as of its last step: what the daemon and status read
        # told of every event fed and every action carried out (alert scripts: hbd/runtime/alerts.py)
        self.watchers: list[Callable[[object], None]] = []
        self.last_step_ms = 0

    # --- start-up -------------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        future = loop.run_in_executor(self.worker, self.runner.probe)
        future.add_done_callback(self._probed)

    def _probed(self, future: "asyncio.Future[ProbeResult]") -> None:
        try:
            found = future.result()
        except Exception:  # an agent bug: assume everything may run, never start a second copy blindly
            LOG.exception("start-up probe failed (bug); treating every group as running here",
                          extra={"hb_level": "ERROR"})
            found = ProbeResult(frozenset(self.view.topology.keys))
        topo = self.view.topology
        partly = f"; partly running: {' '.join(topo.ordered(found.partial))}" if found.partial else ""
        self.note(f"probed: {' '.join(topo.ordered(found.running)) or 'nothing'} running here{partly}")
        self.probed = True
        self.feed(o.Probed(found.running, found.partial))
        pending, self.pending = self.pending, []
        for event in pending:
            self.feed(event)

    # --- the step -------------------------------------------------------------------------------

    def now_ms(self) -> int:
        assert self.loop is not None
        return int(self.loop.time() * 1000)

    def feed(self, event: o.Event) -> None:
        if not self.probed and not isinstance(event, o.Probed):
            self.pending.append(event)
            return
        now = self.now_ms()
        self.last_step_ms = now
        self._tell(event)
        try:
            actions = self.core.handle(event, now)
        except Exception:  # a bug in the core must not stop the heartbeats: log it, keep running
            LOG.exception("ownership step failed (bug) on %s", type(event).__name__, extra={"hb_level": "ERROR"})
            actions = []
        self.carry_out(actions)
        self._schedule(now)

    def carry_out(self, actions: list[o.Action]) -> None:
        """Carries out the core's actions, also those of a step the heartbeat layer made (runtime/bridge.py)."""
        for action in actions:
            self._apply(action)
        self.view = self.core.view()
        self.on_change()

    def _schedule(self, now: int) -> None:
        assert self.loop is not None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self.core.next_deadline(now)
        if deadline is not None:
            self._timer = self.loop.call_at((deadline + 1) / 1000, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self.feed(o.Tick())

    def note(self, text: str) -> None:
        self.transitions.append(Transition(time.time(), text, time.monotonic()))

    # --- actions --------------------------------------------------------------------------------

    def _tell(self, item: object) -> None:
        for watcher in self.watchers:
            try:
                watcher(item)
            except Exception:  # a watcher's bug must not stop the resources
                LOG.exception("watcher failed (bug)", extra={"hb_level": "ERROR"})

    def _apply(self, action: o.Action) -> None:
        self._tell(action)
        if isinstance(action, o.Send):
            self.send(tuple((k, str(v)) for k, v in action.fields.items()))
        elif isinstance(action, o.Log):
            log_hb(LOG, action.level, action.text)
        elif isinstance(action, o.StartGroup):
            self.note(f"start {action.key}: {action.reason}")
            options = StartOptions(peer_released=action.peer_released)  # the core's option (pre_probe.py)
            self._run(functools.partial(self.runner.start, options=options), action.key, started=True)
        elif isinstance(action, o.GroupTransition):
            self.note(f"group {action.key}: {action.old.value} -> {action.new.value}")
            LOG.debug("group %s: %s -> %s (%s)", action.key, action.old.value, action.new.value, action.cause.value)
        elif isinstance(action, o.StopGroup):
            self.note(f"stop {action.key}: {action.reason}")
            self._run(self.runner.stop, action.key, started=False)
        elif isinstance(action, o.AdminReply):
            future = self.replies.pop(action.request_id, None)
            if future is not None and not future.done():
                future.set_result(action)
        elif isinstance(action, o.Announce):
            self.note(f"announce {action.key} again")
            self.worker.submit(self._announce, action.key)
        elif isinstance(action, o.Fence):
            self.note(f"fence {action.node}")
            if self.on_fence is not None:
                self.on_fence(action.node)
            else:
                log_hb(LOG, "ERROR", f"fencing of {action.node} requested, but no fence device is configured")
        elif isinstance(action, o.StopFailedForGood):
            done = self.escalator.carry_out(action.key, action.escalation)
            self.note(f"stop escalation {action.key}: {done.value}")
        elif isinstance(action, o.ShutdownComplete):
            self.on_shutdown_complete()

    def _run(self, work: Callable[[str], GroupResult], key: str, started: bool) -> None:
        assert self.loop is not None
        loop = self.loop

        def done(future: "asyncio.Future[GroupResult]") -> None:
            try:
                result = future.result()
            except Exception as exc:  # an agent bug: the operation failed
                LOG.exception("group operation on %s failed (bug)", key, extra={"hb_level": "ERROR"})
                result = GroupResult(key, False, f"internal error: {exc}")
            event: o.Event = (o.GroupStarted(key, result.ok, result.reason) if started
                              else o.GroupStopped(key, result.ok, result.reason))
            self.feed(event)

        loop.run_in_executor(self.worker, work, key).add_done_callback(done)

    def _announce(self, key: str) -> None:
        try:
            self.runner.announce(key)
        except Exception:  # an agent bug: the addresses stay, only the announcement is missing
            LOG.exception("announcing %s failed (bug)", key, extra={"hb_level": "ERROR"})

    # --- admin requests -------------------------------------------------------------------------

    async def admin(self, kind: str, which: str, timeout_s: float) -> o.AdminReply:
        if not self.probed or self.loop is None:
            return o.AdminReply(0, False, "not ready: probing the resources that run here")
        request_id = self.next_request
        self.next_request += 1
        future: asyncio.Future[o.AdminReply] = self.loop.create_future()
        self.replies[request_id] = future
        self.feed(o.AdminRequest(kind, which, request_id))  # type: ignore[arg-type]
        try:
            return await asyncio.wait_for(future, timeout_s)
        except asyncio.TimeoutError:
            self.replies.pop(request_id, None)
            return o.AdminReply(request_id, False, f"no outcome within {timeout_s:g} s; see the log")

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.worker.shutdown(wait=False, cancel_futures=True)
