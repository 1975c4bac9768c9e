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
from typing import Any, Literal, Union

from hbd.core.holdings import REQUEST_WORDS

ADMIN_TIMEOUT_S = 600.0  # the longest a handover request may wait for its outcome
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


Request = Union[StatusRequest, HandoverRequest, OutdatePeerRequest, CleanupRequest, FenceAckRequest,
                IntervalsRequest, ReloadRequest, StopRequest]
COMMANDS = ("status", "standby", "takeover", "outdate-peer", "cleanup", "fence-ack", "intervals", "reload", "stop")
_KEYS: dict[str, frozenset[str]] = {
    "status": frozenset(), "intervals": frozenset(), "reload": frozenset(), "stop": frozenset(),
    "standby": frozenset({"which", "timeout"}), "takeover": frozenset({"which", "timeout"}),
    "outdate-peer": frozenset({"resource", "timeout"}), "cleanup": frozenset({"group"}),
    "fence-ack": frozenset({"node"}),
}


def decode(obj: object) -> Request:
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
        case _:  # fence-ack
            return FenceAckRequest((_name(obj, "node", required=True) or "").lower())


def encode(request: Request) -> dict[str, Any]:
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
