"""The one contract every resource agent follows: start, stop, status, each bounded, with a typed result.

Results are running / stopped / failed(reason) / timeout. Start of a started resource and stop of a
stopped one succeed. Bad parameters raise `AgentError` when the agent is built, before anything is
touched. `call()` is the single entry the executor and the command line use: it times and logs each call.
"""
from __future__ import annotations

import enum
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable, Literal

log = logging.getLogger("hbd.agents")

Op = Literal["start", "stop", "status"]
OPS: tuple[Op, ...] = ("start", "stop", "status")

DEFAULT_TIMEOUT_S: dict[str, float] = {"start": 60.0, "stop": 60.0, "status": 20.0}


class Outcome(enum.Enum):
    RUNNING = "running"
    STOPPED = "stopped"
    FAILED = "failed"
    TIMEOUT = "timeout"


# OCF exit codes (rgmanager.md §4.1), shared by the OCF class and the thin executables.
OCF_SUCCESS = 0
OCF_ERR_GENERIC = 1
OCF_ERR_ARGS = 2
OCF_ERR_UNIMPLEMENTED = 3
OCF_ERR_PERM = 4
OCF_ERR_INSTALLED = 5
OCF_ERR_CONFIGURED = 6
OCF_NOT_RUNNING = 7

OCF_CODE_TEXT: dict[int, str] = {
    0: "success",
    1: "generic error",
    2: "invalid argument(s)",
    3: "unimplemented feature",
    4: "insufficient privileges",
    5: "program not installed",
    6: "program not configured",
    7: "program not running",
}


@dataclass(frozen=True)
class AgentResult:
    """What one agent call did. `actions` are human-readable lines of what was done, in order."""

    op: Op
    outcome: Outcome
    reason: str = ""
    duration_s: float = 0.0
    actions: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Did the operation achieve what was asked? (status: it could tell, either way)."""
        if self.op == "start":
            return self.outcome is Outcome.RUNNING
        if self.op == "stop":
            return self.outcome is Outcome.STOPPED
        return self.outcome in (Outcome.RUNNING, Outcome.STOPPED)

    @property
    def reason_line(self) -> str:
        """One machine-readable line: `op=start outcome=failed reason=...`."""
        text = f"op={self.op} outcome={self.outcome.value}"
        return f"{text} reason={self.reason}" if self.reason else text

    def __str__(self) -> str:
        text = f"{self.op} {self.outcome.value}"
        return f"{text}: {self.reason}" if self.reason else text


def running(op: Op, *actions: str) -> AgentResult:
    return AgentResult(op, Outcome.RUNNING, actions=tuple(actions))


def stopped(op: Op, *actions: str) -> AgentResult:
    return AgentResult(op, Outcome.STOPPED, actions=tuple(actions))


def failed(op: Op, reason: str, *actions: str) -> AgentResult:
    return AgentResult(op, Outcome.FAILED, reason, actions=tuple(actions))


def timed_out(op: Op, reason: str, *actions: str) -> AgentResult:
    return AgentResult(op, Outcome.TIMEOUT, reason, actions=tuple(actions))


@dataclass(frozen=True)
class StartOptions:
    """What the caller knows about a start, typed (decided in the core, hbd/core/ownership_types.py Cause).

    `peer_released`: the peer said it released the resource (a standby hand-over, its shutdown), or a probe
    just before the death verdict found its addresses silent. An agent may skip what only guards against the
    peer still holding it: IPaddr2 skips its duplicate-address probe; every other agent ignores it."""

    peer_released: bool = False


@dataclass(frozen=True)
class AddressClaim:
    """An address a resource will claim on start: where it goes and this node's MAC there (the pre-probe
    asks whether anyone else answers for it, hbd/runtime/preprobe.py)."""

    iface: str
    mac: str
    ip: str


@dataclass
class Deadline:
    """A time bound for one agent call; the clock is injectable so long waits test in microseconds."""

    seconds: float
    clock: Callable[[], float] = time.monotonic
    start: float = field(default=-1.0)

    def __post_init__(self) -> None:
        if self.start < 0:
            self.start = self.clock()

    def remaining(self) -> float:
        return max(0.0, self.start + self.seconds - self.clock())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0


class Agent(ABC):
    """A configured resource: one instance knows its parameters and can start, stop and check it."""

    #: the agent class name, e.g. "IPaddr2", "lsb", "ocf:heartbeat:Dummy"
    kind: str = "agent"
    #: start of a running resource succeeds without touching it (this contract); a script that may not
    #: follow it is asked for its status before a start instead (hbd/agents/executor.py)
    idempotent_start: bool = True
    #: this agent claims network addresses on start (it implements `claimed_addresses`)
    claims_addresses: bool = False

    @property
    @abstractmethod
    def label(self) -> str:
        """How the resource is named in logs and output, e.g. `IPaddr2::192.0.2.50/24`."""

    @abstractmethod
    def start(self, deadline: Deadline) -> AgentResult: ...

    @abstractmethod
    def stop(self, deadline: Deadline) -> AgentResult: ...

    @abstractmethod
    def status(self, deadline: Deadline) -> AgentResult: ...

    def start_with(self, deadline: Deadline, options: StartOptions) -> AgentResult:
        """A start with what the caller knows (StartOptions); an agent that can use it overrides this."""
        return self.start(deadline)

    def claimed_addresses(self) -> tuple[AddressClaim, ...]:
        """The addresses a start will claim, located on this node (none for most agents). May do I/O."""
        return ()

    def link_interfaces(self) -> tuple[str, ...]:
        """The interfaces whose carrier this resource needs to serve (IPaddr2: the one its address goes on, as
        resolved here); the daemon's link monitor watches them. None for most agents. May do I/O."""
        return ()

    def announce_again(self) -> str:
        """Announce the claimed addresses again (gratuitous ARP / unsolicited NA); say what was done."""
        return f"{self.label}: not announced again (this agent claims no address it can announce)"

    def force_stop(self, timeout_s: float | None = None) -> AgentResult | None:
        """After a stop that failed: stop by force (Filesystem: kill every holder at once). None: this agent
        has no forced stop. Called by the executor's stop escalation only."""
        return None

    def call(self, op: Op, timeout_s: float | None = None, options: StartOptions = StartOptions()) -> AgentResult:
        """Run one operation within its timeout; log it with its duration. Never raises for agent failures."""
        if op not in OPS:
            raise ValueError(f"unknown agent operation {op!r}")
        seconds = DEFAULT_TIMEOUT_S[op] if timeout_s is None else timeout_s
        begin = time.monotonic()
        deadline = Deadline(seconds)
        try:
            result = self.start_with(deadline, options) if op == "start" else getattr(self, op)(deadline)
        except OSError as exc:
            result = failed(op, f"{type(exc).__name__}: {exc}")
        duration = time.monotonic() - begin
        if result.outcome is not Outcome.TIMEOUT and duration > seconds:
            result = timed_out(op, f"{op} took {duration:.3f}s, over its {seconds:g}s timeout", *result.actions)
        result = AgentResult(result.op, result.outcome, result.reason, duration, result.actions)
        level = logging.INFO if result.ok else logging.ERROR
        log.log(level, "%s %s: %s in %.3fs%s", self.label, op, result.outcome.value, duration,
                f" ({result.reason})" if result.reason else "")
        return result
