"""The control socket's requests and replies as typed values, decoded once.

The wire format is unchanged (one JSON object a line, `{"cmd": ...}` plus the command's own keys), so an
older CLI keeps working. `decode()` turns a request object into one of the request classes below or raises
BadRequest naming what is wrong; nothing reaches the daemon before that, so a malformed request changes
nothing. `encode()` is its inverse, used by the CLI, and `decode(encode(r)) == r` for every request.
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, Union

from hbd.core.holdings import REQUEST_WORDS
from hbd.core.service_outcome import AdminOutcome, AdminResult, FailedBecause
from hbd.core.service_table import AdminOp, Refusal

ADMIN_TIMEOUT_S = 600.0  # the longest a handover request may wait for its outcome
SERVICE_TIMEOUT_S = 120.0  # the default wait of `hbd svc` (a start or stop of a database can take this long)
OUTDATE_TIMEOUT_S = 5.0  # the default wait of `outdate-peer`
MAX_TEXT = 256  # names (groups, nodes, resources) are short; anything longer is not one


class BadRequest(ValueError):
    """A request the daemon refuses without acting: the text says what is wrong."""


@dataclass(frozen=True)
class StatusRequest:
    pass


@dataclass(frozen=True)
class HandoverRequest:
    """hbd-standby / hbd-takeover: hand the group set `which` to the peer, or take it."""
    kind: Literal["standby", "takeover"]
    which: str = "all"
    timeout_s: float = ADMIN_TIMEOUT_S


@dataclass(frozen=True)
class OutdatePeerRequest:
    resource: str
    timeout_s: float = OUTDATE_TIMEOUT_S


@dataclass(frozen=True)
class CleanupRequest:
    group: str | None = None  # None: every group


@dataclass(frozen=True)
class FenceAckRequest:
    node: str


@dataclass(frozen=True)
class IntervalsRequest:
    pass


@dataclass(frozen=True)
class ReloadRequest:
    pass


@dataclass(frozen=True)
class StopRequest:
    pass


@dataclass(frozen=True)
class SplitBrainRequest:
    """hbd splitbrain: DRBD's state on both nodes, the plan keeping `keep`'s data, or running it (both daemons)."""
    op: Literal["status", "plan", "resolve"]
    resource: str = "all"
    keep: str | None = None  # required for plan and resolve


@dataclass(frozen=True)
class ServiceAdminRequest:
    """hbd svc / clusvcadm: an admin operation on a cluster.conf service, answered once it has its outcome."""
    op: AdminOp
    service: str
    target: str | None = None  # -m NODE
    timeout_s: float = SERVICE_TIMEOUT_S


Request = Union[StatusRequest, HandoverRequest, OutdatePeerRequest, CleanupRequest, FenceAckRequest,
                IntervalsRequest, ReloadRequest, StopRequest, SplitBrainRequest]
# Every request decode() makes: ServiceAdminRequest (hbd svc) is carried out by the cluster.conf daemon; the
# ha.cf daemon answers it with ServiceAdminReply.unavailable.
AnyRequest = Union[Request, ServiceAdminRequest]
COMMANDS = ("status", "standby", "takeover", "outdate-peer", "cleanup", "fence-ack", "intervals", "reload", "stop",
            "svc", "splitbrain")
_KEYS: dict[str, frozenset[str]] = {
    "status": frozenset(), "intervals": frozenset(), "reload": frozenset(), "stop": frozenset(),
    "standby": frozenset({"which", "timeout"}), "takeover": frozenset({"which", "timeout"}),
    "outdate-peer": frozenset({"resource", "timeout"}), "cleanup": frozenset({"group"}),
    "fence-ack": frozenset({"node"}), "svc": frozenset({"op", "service", "node", "timeout"}),
    "splitbrain": frozenset({"op", "resource", "keep"}),
}
SERVICE_OPS = tuple(op.value for op in AdminOp)


def decode(obj: object) -> AnyRequest:
    """The typed request, or BadRequest. Unknown keys are refused too: a misspelt option must not be ignored."""
    if not isinstance(obj, dict) or not isinstance(obj.get("cmd"), str):
        raise BadRequest('a request is an object with a "cmd" string')
    cmd = obj["cmd"]
    if cmd not in _KEYS:
        raise BadRequest(f"unknown command '{_clip(cmd)}' (known: {', '.join(COMMANDS)})")
    extra = sorted(str(k) for k in obj if k != "cmd" and k not in _KEYS[cmd])
    if extra:
        raise BadRequest(f"{cmd}: unknown key(s) {', '.join(_clip(k) for k in extra)}")
    match cmd:
        case "status":
            return StatusRequest()
        case "intervals":
            return IntervalsRequest()
        case "reload":
            return ReloadRequest()
        case "stop":
            return StopRequest()
        case "standby" | "takeover":
            which = obj.get("which", "all")
            if which not in REQUEST_WORDS:
                raise BadRequest(f"unknown group set '{_clip(which)}' (use {', '.join(REQUEST_WORDS)})")
            return HandoverRequest(cmd, which, _timeout(obj, ADMIN_TIMEOUT_S, math.inf))
        case "outdate-peer":
            return OutdatePeerRequest(_name(obj, "resource", required=True) or "",
                                      _timeout(obj, OUTDATE_TIMEOUT_S, ADMIN_TIMEOUT_S))
        case "cleanup":
            return CleanupRequest(_name(obj, "group", required=False))
        case "svc":
            op = obj.get("op")
            if op not in SERVICE_OPS:
                raise BadRequest(f"svc: unknown operation '{_clip(op)}' (use {', '.join(SERVICE_OPS)})")
            target = _name(obj, "node", required=False)
            if target is not None and AdminOp(op) not in (AdminOp.ENABLE, AdminOp.RELOCATE):
                raise BadRequest(f"svc {op}: a target node (-m) goes only with enable and relocate")
            return ServiceAdminRequest(AdminOp(op), _name(obj, "service", required=True) or "", target,
                                       _timeout(obj, SERVICE_TIMEOUT_S, ADMIN_TIMEOUT_S))
        case "splitbrain":
            sb_op = obj.get("op")
            if sb_op not in ("status", "plan", "resolve"):
                raise BadRequest(f"splitbrain: unknown operation '{_clip(sb_op)}' (use status, plan, resolve)")
            keep = _name(obj, "keep", required=sb_op != "status")
            return SplitBrainRequest(sb_op, _name(obj, "resource", required=False) or "all",
                                     keep.lower() if keep is not None else None)
        case _:  # fence-ack
            return FenceAckRequest((_name(obj, "node", required=True) or "").lower())


def encode(request: AnyRequest) -> dict[str, Any]:
    match request:
        case StatusRequest():
            return {"cmd": "status"}
        case IntervalsRequest():
            return {"cmd": "intervals"}
        case ReloadRequest():
            return {"cmd": "reload"}
        case StopRequest():
            return {"cmd": "stop"}
        case HandoverRequest(kind, which, timeout_s):
            return {"cmd": kind, "which": which, "timeout": timeout_s}
        case OutdatePeerRequest(resource, timeout_s):
            return {"cmd": "outdate-peer", "resource": resource, "timeout": timeout_s}
        case CleanupRequest(group):
            return {"cmd": "cleanup"} if group is None else {"cmd": "cleanup", "group": group}
        case FenceAckRequest(node):
            return {"cmd": "fence-ack", "node": node}
        case SplitBrainRequest(sb_op, resource, keep):
            sb = {"cmd": "splitbrain", "op": sb_op, "resource": resource}
            return sb if keep is None else {**sb, "keep": keep}
        case ServiceAdminRequest(op, service, target, timeout_s):
            out = {"cmd": "svc", "op": op.value, "service": service, "timeout": timeout_s}
            return out if target is None else {**out, "node": target}


def _timeout(obj: dict[str, Any], default: float, most: float) -> float:
    value = obj.get("timeout", default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 < value <= most:
        bound = f", at most {most:g}" if math.isfinite(most) else ""
        raise BadRequest(f"timeout must be a positive number of seconds{bound}")
    return float(value)


def _name(obj: dict[str, Any], key: str, *, required: bool) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT or not value.isprintable():
        raise BadRequest(f"{key} must be a non-empty name of at most {MAX_TEXT} printable characters")
    return value


def _clip(value: object) -> str:
    text = str(value)
    return text if len(text) <= 40 and text.isprintable() else repr(text[:40]) + "..."


# --- replies --------------------------------------------------------------------------------------------


class ReloadOutcome(enum.Enum):
    APPLIED = "applied"  # unchanged, applied live, or the daemon restarts keeping its resources
    REFUSED = "refused"  # a change cannot be applied now (says which): nothing changed
    BUSY = "busy"  # a resource operation is running: nothing changed, reload again later
    UNUSABLE = "unusable"  # the new configuration is not valid: nothing changed

    @property
    def exit_code(self) -> int:
        """`hbd reload`'s exit code: 0 applied, 1 refused or busy, 6 unusable (as the daemon's own code)."""
        return {ReloadOutcome.APPLIED: 0, ReloadOutcome.REFUSED: 1, ReloadOutcome.BUSY: 1,
                ReloadOutcome.UNUSABLE: 6}[self]


@dataclass(frozen=True)
class ReloadReply:
    outcome: ReloadOutcome
    text: str
    changes: tuple[str, ...] = ()  # every difference found, as "area: what"

    @property
    def ok(self) -> bool:
        return self.outcome is ReloadOutcome.APPLIED

    def wire(self) -> dict[str, Any]:
        return {"ok": self.ok, "text": self.text, "outcome": self.outcome.value, "changes": list(self.changes)}

    @classmethod
    def from_wire(cls, answer: dict[str, Any]) -> "ReloadReply":
        """An answer of this daemon or of an older one (no "outcome": ok or not)."""
        try:
            outcome = ReloadOutcome(answer.get("outcome"))
        except ValueError:
            outcome = ReloadOutcome.APPLIED if answer.get("ok") else ReloadOutcome.REFUSED
        changes = answer.get("changes")
        text = answer.get("text") or answer.get("error") or ""
        return cls(outcome, str(text), tuple(str(c) for c in changes) if isinstance(changes, list) else ())


@dataclass(frozen=True)
class ServiceAdminReply:
    """The answer to a ServiceAdminRequest: what became of it, and the service as it was then."""
    result: AdminResult
    text: str
    refusal: Refusal | None = None
    state: str | None = None  # the service's state (clustat's word) when answered
    owner: str | None = None
    because: FailedBecause | None = None  # with FAILED: why

    @property
    def ok(self) -> bool:
        return self.result is AdminResult.DONE

    @classmethod
    def of(cls, request: ServiceAdminRequest, outcome: AdminOutcome) -> "ServiceAdminReply":
        """The reply for an outcome of hbd/core/service_outcome.py, with its line for the admin."""
        name, op, entry = f"service:{request.service}", request.op.value, outcome.entry
        state = entry.state.value if entry is not None else None
        owner = entry.owner if entry is not None else None
        where = f" on {owner}" if owner else ""
        match outcome.result:
            case AdminResult.DONE if request.op is AdminOp.DISABLE:
                text = f"{name} is disabled"
            case AdminResult.DONE if request.op in (AdminOp.FREEZE, AdminOp.UNFREEZE):
                text = f"{name} is {'frozen' if request.op is AdminOp.FREEZE else 'no longer frozen'}{where}"
            case AdminResult.DONE:
                text = (f"Warning: {name} is now running on {owner}, not on {request.target}: it failed to start "
                        f"there" if outcome.elsewhere else f"{name} is now running on {owner}")
            case AdminResult.REFUSED:
                reason = outcome.refusal.value if outcome.refusal is not None else "refused"
                text = f"{name}: {op} refused: {reason}; nothing changed"
            case AdminResult.FAILED:
                why = outcome.because.value if outcome.because is not None else "failed"
                text = f"{name}: {op} failed: {why} (now {state or 'unknown'}{where})"
            case AdminResult.TIMED_OUT:
                text = (f"{name}: {op} accepted, but not done within {request.timeout_s:g} s (now "
                        f"{state or 'unknown'}{where}); it may still complete: see hbd status")
            case _:
                text = f"{name}: {op}: no services here"
        return cls(outcome.result, text, outcome.refusal, state, owner, outcome.because)

    @classmethod
    def unavailable(cls, text: str) -> "ServiceAdminReply":
        """This daemon cannot take the request now (no cluster.conf services, not joined yet): nothing changed."""
        return cls(AdminResult.UNAVAILABLE, text)

    def wire(self) -> dict[str, Any]:
        return {"ok": self.ok, "result": self.result.value, "text": self.text,
                "refusal": self.refusal.name.lower() if self.refusal is not None else None,
                "timed_out": self.result is AdminResult.TIMED_OUT, "state": self.state, "owner": self.owner,
                "because": self.because.name.lower() if self.because is not None else None}

    @classmethod
    def from_wire(cls, answer: dict[str, Any]) -> "ServiceAdminReply":
        """Any daemon's answer: with `result`, or judged from ok / refusal / timed_out; a control-server error
        (`error`: a bad request, a daemon without services) is refused: the daemon changed nothing."""
        refusal = _member(Refusal, answer.get("refusal"))
        because = _member(FailedBecause, answer.get("because"))
        try:
            result = AdminResult(answer.get("result"))
        except ValueError:
            if answer.get("ok"):
                result = AdminResult.DONE
            elif refusal is not None:
                result = AdminResult.REFUSED
            elif answer.get("timed_out"):
                result = AdminResult.TIMED_OUT
            elif "error" in answer or "result" in answer:
                result = AdminResult.UNAVAILABLE
            else:
                result = AdminResult.FAILED
        text = answer.get("text") or answer.get("error") or ""
        state, owner = answer.get("state"), answer.get("owner")
        return cls(result, str(text), refusal, state if isinstance(state, str) else None,
                   owner if isinstance(owner, str) else None, because)


E = TypeVar("E", bound=enum.Enum)


def _member(kind: type[E], word: object) -> E | None:
    """The member of `kind` named `word` (any case), or None."""
    return next((m for m in kind if isinstance(word, str) and m.name.lower() == word.lower()), None)
