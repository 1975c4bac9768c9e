"""Runs resource groups for the daemon: start/stop plans through the agents, probing at start-up.

Everything here blocks (agents run programs, wait for ARP, mount file systems), so the daemon calls it
from one worker thread, never from the event loop that sends heartbeats. One group operation runs at a
time (the ownership core asks for them one by one).

Before starting a script resource (LSB, resource.d, OCF) its status is asked, and one that already runs is
not started again, as Heartbeat's ResourceManager does (heartbeat.md §11.18); hbd's built-in agents
(IPaddr2, Filesystem, drbddisk) are idempotent and skip that call, which keeps a handover fast.
A failed start stops, in reverse, what that start touched (the failed resource included: it may be half
up), and reports which resource failed. A stop goes on past a failed resource (stopping the rest is
still right) and reports the first failure.

The start-up probe asks every resource (it does not stop at the first one running): a group with all its
resources running is adopted as running; one with only some running (a daemon killed mid-start, a service
that died, a resource newly added to haresources) is held and later completed by running its start plan,
which starts, in plan order, only what is not running yet. What each resource was last seen doing is kept
for `hbd status`.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable, Mapping

from hbd.agents.base import Agent, AgentResult, Outcome
from hbd.agents.registry import Registry
from hbd.config.model import ResourceNode
from hbd.core.ordering import ChildTypes, Step, plan
from hbd.errors import AgentError
from hbd.runtime.announce import announce
from hbd.runtime.logsetup import log_hb

LOG = logging.getLogger("hbd.groups")
SCRIPT_KINDS = ("lsb", "heartbeat", "ocf")
IP_AGENTS = ("IPaddr2", "IPaddr")


@dataclass(frozen=True)
class GroupResult:
    key: str
    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class ProbeResult:
    running: frozenset[str]  # every resource of the group runs here
    partial: frozenset[str] = frozenset()  # some do, not all


@dataclass(frozen=True)
class Timeouts:
    start_s: float | None = None  # None: the agent's default
    stop_s: float | None = None
    status_s: float | None = None


def describe(node: ResourceNode) -> str:
    """A resource as haresources writes it (`IPaddr2::192.0.2.50/24`), or `type:name` for cluster.conf."""
    return node.primary if node.attr("args") is not None else node.ident


def released_resolver(registry: Registry) -> Callable[[ResourceNode], Agent]:
    """Agents for a start that follows a confirmed release by the peer (standby `done`, `shutdone`):
    IPaddr2 skips its duplicate-address probe, since the peer has said the address is gone, so a handover
    costs no probe time. After a death the probe stays: it is what holds a survivor off while the VIP of
    a node whose daemon was killed (kill -9) still answers."""
    def resolve(node: ResourceNode) -> Agent:
        args = node.attr("args")
        if node.type in IP_AGENTS and args is not None and registry.use_builtins:
            return registry.for_haresource(node.type, tuple(args.split("::")), {"arp_probe_ms": "0"})
        return registry.resolve(node)
    return resolve


class GroupRunner:
    def __init__(self, roots: Mapping[str, ResourceNode], types: ChildTypes, *,
                 resolve: Callable[[ResourceNode], Agent] | None = None,
                 resolve_released: Callable[[ResourceNode], Agent] | None = None, timeouts: Timeouts = Timeouts()):
        self.roots = dict(roots)
        self.types = types
        registry = Registry()
        self.resolve = resolve or registry.resolve
        self.resolve_released = resolve_released or (self.resolve if resolve else released_resolver(registry))
        self.timeouts = timeouts
        self._states: dict[str, dict[str, str]] = {key: {} for key in self.roots}  # key -> resource -> state
        self._lock = threading.Lock()  # written by the worker thread, read by `hbd status` on the loop

    def resource_states(self) -> dict[str, list[tuple[str, str]]]:
        """What each resource of each group was last seen doing: running, stopped, starting, failed..."""
        with self._lock:
            return {key: list(states.items()) for key, states in self._states.items()}

    def _mark(self, key: str, step: Step, state: str) -> None:
        with self._lock:
            self._states.setdefault(key, {})[describe(step.node)] = state

    # --- one resource ---------------------------------------------------------------------------

    def _call(self, step: Step, released: bool = False, key: str | None = None) -> tuple[AgentResult | None, str]:
        """Run one step; (result, failure text or ""). With `key`, the resource's state is recorded."""
        try:
            agent = (self.resolve_released if released else self.resolve)(step.node)
        except AgentError as exc:
            if key is not None:
                self._mark(key, step, "failed")
            return None, f"{describe(step.node)}: {exc}"
        if agent.kind == "container":
            return None, ""
        if key is not None:
            if step.op != "status":
                self._mark(key, step, {"start": "starting", "stop": "stopping"}[step.op])
            result, failure = self._call_agent(agent, step)
            seen = (result.outcome.value if result is not None else "error") if step.op == "status" else (
                ("running" if step.op == "start" else "stopped") if not failure else f"{step.op} failed")
            self._mark(key, step, seen)
            return result, failure
        return self._call_agent(agent, step)

    def _call_agent(self, agent: Agent, step: Step) -> tuple[AgentResult | None, str]:
        if step.op == "start" and agent.kind in SCRIPT_KINDS:
            before = agent.call("status", self.timeouts.status_s)
            if before.outcome is Outcome.RUNNING:
                log_hb(LOG, "info", f"Resource {describe(step.node)} is already running: not started again")
                return before, ""
        timeout = {"start": self.timeouts.start_s, "stop": self.timeouts.stop_s,
                   "status": self.timeouts.status_s}[step.op]
        log_hb(LOG, "info", f"Running {describe(step.node)} {step.op}")
        result = agent.call(step.op, timeout)
        for line in result.actions:
            log_hb(LOG, "debug", f"{describe(step.node)}: {line}")
        good = result.outcome is Outcome.RUNNING if step.op == "status" else result.ok
        if good or step.op == "status":
            return result, ""
        return result, f"{describe(step.node)} {step.op} {result.outcome.value}" + (
            f": {result.reason}" if result.reason else "")

    # --- whole groups ---------------------------------------------------------------------------

    def start(self, key: str, released: bool = False) -> GroupResult:
        """`released`: the peer confirmed it released the group (see released_resolver)."""
        started: list[Step] = []
        for step in plan("start", self.roots[key], self.types):
            started.append(step)
            _, failure = self._call(step, released, key)
            if failure:
                log_hb(LOG, "ERROR", f"Return code from {failure}")
                self._undo(key, started)
                return GroupResult(key, False, failure)
        return GroupResult(key, True)

    def _undo(self, key: str, started: list[Step]) -> None:
        """Stop, in reverse, every resource this start touched."""
        for step in reversed(started):
            _, failure = self._call(Step("stop", step.node, step.path), key=key)
            if failure:
                log_hb(LOG, "ERROR", f"after a failed start: {failure}")

    def stop(self, key: str) -> GroupResult:
        first_failure = ""
        for step in plan("stop", self.roots[key], self.types):
            _, failure = self._call(step, key=key)
            if failure:
                log_hb(LOG, "ERROR", f"Return code from {failure}")
                first_failure = first_failure or failure
        return GroupResult(key, not first_failure, first_failure)

    def running(self, key: str) -> tuple[int, int]:
        """(resources running here, resources asked): every resource is asked, none is skipped."""
        found = asked = 0
        for step in plan("status", self.roots[key], self.types):
            result, failure = self._call(step, key=key)
            if result is None and not failure:
                continue  # a container
            asked += 1
            found += result is not None and result.outcome is Outcome.RUNNING
        return found, asked

    def announce(self, key: str) -> None:
        """Announce the group's addresses again (see hbd.runtime.announce)."""
        for step in plan("start", self.roots[key], self.types):
            if step.node.type in IP_AGENTS:
                try:
                    agent = self.resolve(step.node)
                except AgentError as exc:
                    log_hb(LOG, "ERROR", f"{describe(step.node)}: not announced: {exc}")
                    continue
                log_hb(LOG, "info", announce(agent))

    def probe(self) -> ProbeResult:
        counts = {key: self.running(key) for key in self.roots}
        for key, (found, asked) in counts.items():
            if 0 < found < asked:
                states = ", ".join(f"{name} {state}" for name, state in self.resource_states()[key])
                log_hb(LOG, "WARN", f"Resource group {key} is partly running here ({found} of {asked}): {states}")
        return ProbeResult(frozenset(k for k, (found, asked) in counts.items() if found and found == asked),
                           frozenset(k for k, (found, asked) in counts.items() if 0 < found < asked))
