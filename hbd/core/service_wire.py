"""The service layer's messages on the heartbeat media: Announce, Report, Forward, Reply as name=value fields (pure).

Each message is one Heartbeat-format message of its own type (`t=hbd_svc_ann`, `hbd_svc_rep`, `hbd_svc_fwd`,
`hbd_svc_rpl`), signed and sequenced by the transport like any other; Heartbeat 3.0.6 hands message types it
does not know to its API clients and acts on none of them. Every field of the body is `svc_*` (never one of
Heartbeat's control fields), string-typed, one line; names (services, nodes) are percent-encoded tokens, so
any name cluster.conf allows travels unchanged.

`decode` never raises: a malformed, oversized or hostile message comes back as a WireError naming what is
wrong, and nothing is half built (the value is made only once every field has been checked). Names in an
Announce or a Report must be the catalog's (an Announce carries exactly the catalog's services); an admin
request's service and target names only need to be well formed: the coordinator refuses unknown ones with
a typed Refusal, so that the requester gets its answer.

Size: one message is one datagram. A body above MAX_BODY is not encoded (WireError TOO_LARGE); the largest
message a catalog can produce (a Report carrying a full Announce) is computed by `check_catalog`, which the
configuration check uses to refuse a catalog whose messages could ever exceed it. There is no fragmentation.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, TypeVar
from urllib.parse import quote, unquote

from hbd.core.service_model import Catalog
from hbd.core.service_states import ServiceState
from hbd.core.service_table import (
    AdminOp, AdminRequest, Announce, DisabledBy, Entry, Forward, RecoveryOp, RecoveryRequest, Refusal, Reply,
    Report, ServiceMessage,
)

WIRE_VERSION = "1"
ANNOUNCE, REPORT, FORWARD, REPLY = "hbd_svc_ann", "hbd_svc_rep", "hbd_svc_fwd", "hbd_svc_rpl"
TYPES = frozenset({ANNOUNCE, REPORT, FORWARD, REPLY})
# One UDP datagram holds 65507 bytes over IPv4; the transport adds src, srcuuid, seq, hg, ts, ld, ttl and two
# auth tokens (under 400 bytes with HMAC-SHA256): 60 KiB of body leaves room to spare.
MAX_BODY = 60 * 1024
MAX_NAME = 256  # characters of a service or node name (the control socket's limit too)
MAX_NUMBER = 10 ** 15 - 1  # sequence numbers, generations, request ids, milliseconds: 15 decimal digits
_NONE = "-"
_DIGITS = re.compile(r"0|[1-9][0-9]{0,14}")  # canonical: no leading zero
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]{1,256}")  # what quote() leaves as it is: the common case, no decoding


class WireProblem(enum.Enum):
    NOT_SERVICE = "not a service message"
    VERSION = "unsupported service wire version"
    MISSING = "missing field"
    BAD_VALUE = "bad value"
    UNEXPECTED = "unexpected field"
    UNKNOWN_NAME = "name not in the catalog"
    SENDER = "sender differs from the transport's src"
    TOO_LARGE = "larger than one datagram"


@dataclass(frozen=True)
class WireError:
    problem: WireProblem
    detail: str

    def __str__(self) -> str:
        return f"{self.problem.value}: {self.detail}"


def is_service_type(t: str | None) -> bool:
    return t in TYPES


class _Bad(Exception):
    """Internal: raised while decoding only, always turned into a WireError by decode()."""

    def __init__(self, problem: WireProblem, detail: str):
        super().__init__(detail)
        self.problem = problem


# --- tokens -----------------------------------------------------------------------------------------

def _q(name: str) -> str:
    if name != _NONE and _PLAIN.fullmatch(name):
        return name
    token = quote(name, safe="")
    return "%2D" if token == _NONE else token


def _opt(name: str | None) -> str:
    return _NONE if name is None else _q(name)


def _names(names: Iterable[str]) -> str:
    return ",".join(_q(n) for n in sorted(names)) or _NONE


def _name(token: str, what: str, known: Callable[[str], bool] | None) -> str:
    """A percent-encoded name: canonical (exactly what _q writes), 1..MAX_NAME characters, known if asked."""
    if token != _NONE and _PLAIN.fullmatch(token):
        if known is not None and not known(token):
            raise _Bad(WireProblem.UNKNOWN_NAME, f"{what}: {token[:40]!r}")
        return token
    try:
        name = unquote(token, errors="strict")
    except UnicodeDecodeError:
        raise _Bad(WireProblem.BAD_VALUE, f"{what}: not UTF-8") from None
    if not name or len(name) > MAX_NAME or _q(name) != token or not name.isprintable():
        raise _Bad(WireProblem.BAD_VALUE, f"{what}: bad name {token[:40]!r}")
    if known is not None and not known(name):
        raise _Bad(WireProblem.UNKNOWN_NAME, f"{what}: {name[:40]!r}")
    return name


def _opt_name(token: str, what: str, known: Callable[[str], bool] | None) -> str | None:
    return None if token == _NONE else _name(token, what, known)


def _name_set(token: str, what: str, known: Callable[[str], bool] | None) -> frozenset[str]:
    if token == _NONE:
        return frozenset()
    parts = token.split(",")
    names = [_name(p, what, known) for p in parts]
    if sorted(names) != names or len(set(names)) != len(names):
        raise _Bad(WireProblem.BAD_VALUE, f"{what}: not sorted and distinct")
    return frozenset(names)


def _number(token: str, what: str) -> int:
    if not _DIGITS.fullmatch(token):
        raise _Bad(WireProblem.BAD_VALUE, f"{what}: not a number of at most 15 digits without a leading zero")
    return int(token)


def _flag(token: str, what: str) -> bool:
    if token not in ("0", "1"):
        raise _Bad(WireProblem.BAD_VALUE, f"{what}: not 0 or 1")
    return token == "1"


E = TypeVar("E", bound=enum.Enum)
V = TypeVar("V")


_WORDS: dict[type, dict[str, enum.Enum]] = {}


def _enum(enum_type: type[E], token: str, what: str) -> E:
    words = _WORDS.get(enum_type)
    if words is None:
        words = _WORDS[enum_type] = {m.name.lower(): m for m in enum_type}
    member = words.get(token)
    if member is None:
        raise _Bad(WireProblem.BAD_VALUE, f"{what}: unknown {token[:40]!r}")
    return member  # type: ignore[return-value]


def _clamp(value: int) -> int:
    return min(max(value, 0), MAX_NUMBER)


# --- encode -----------------------------------------------------------------------------------------

Fields = list[tuple[str, str]]


def _entry(name: str, e: Entry) -> str:
    return " ".join((
        _q(name), "1" if e.enabled else "0", "1" if e.frozen else "0", _opt(e.placement), "1" if e.go else "0",
        str(_clamp(e.since)), str(_clamp(e.generation)), _names(e.avoid), _opt(e.owner), _opt(e.last_owner),
        e.state.name.lower(), _NONE if e.disabled_by is None else e.disabled_by.name.lower(),
    ))


def _announce_fields(a: Announce, prefix: str) -> Fields:
    out = [(f"{prefix}from", _q(a.sender)), (f"{prefix}seq", str(_clamp(a.seq))),
           (f"{prefix}members", _names(a.members)), (f"{prefix}n", str(len(a.table)))]
    out += [(f"{prefix}e{i}", _entry(name, a.table[name])) for i, name in enumerate(sorted(a.table))]
    return out


def _pairs(items: Iterable[tuple[str, str]]) -> str:
    return " ".join(f"{_q(k)}:{v}" for k, v in sorted(items)) or _NONE


def encode(message: ServiceMessage) -> Fields | WireError:
    """The body fields of one message (`t` first); the transport adds its control fields and signs it."""
    fields = _fields(message)
    size = body_size(fields)
    if size > MAX_BODY:
        return WireError(WireProblem.TOO_LARGE, f"{size} bytes of fields > {MAX_BODY}")
    return fields


def _fields(message: ServiceMessage) -> Fields:
    fields: Fields = [("svc_v", WIRE_VERSION)]
    if isinstance(message, Announce):
        fields = [("t", ANNOUNCE)] + fields + _announce_fields(message, "svc_")
    elif isinstance(message, Report):
        fields = [("t", REPORT)] + fields + [
            ("svc_from", _q(message.sender)), ("svc_members", _names(message.members)),
            ("svc_seen", str(_clamp(message.seen_seq))),
            ("svc_local", _pairs((k, v.name.lower()) for k, v in message.local.items())),
            ("svc_suspects", _pairs((k, str(_clamp(v))) for k, v in message.suspects.items())),
            ("svc_last", "0" if message.last is None else "1")]
        if message.last is not None:
            fields += _announce_fields(message.last, "svc_l_")
    elif isinstance(message, Forward):
        request = message.request
        kind = "admin" if isinstance(request, AdminRequest) else "recovery"
        target = request.target if isinstance(request, AdminRequest) else None
        fields = [("t", FORWARD)] + fields + [
            ("svc_from", _q(message.sender)), ("svc_id", str(_clamp(message.request_id))), ("svc_kind", kind),
            ("svc_op", request.op.name.lower()), ("svc_service", _q(request.service)),
            ("svc_target", _opt(target))]
    else:
        fields = [("t", REPLY)] + fields + [
            ("svc_id", str(_clamp(message.request_id))),
            ("svc_refusal", _NONE if message.refusal is None else message.refusal.name.lower())]
    return fields


def body_size(fields: Iterable[tuple[str, str]]) -> int:
    """The bytes these fields take on the wire: one netstring `len:(0)name=value,` each."""
    total = 0
    for name, value in fields:
        payload = 4 + len(name.encode()) + len(value.encode())
        total += len(str(payload)) + 2 + payload
    return total


# --- decode -----------------------------------------------------------------------------------------

class _Reader:
    def __init__(self, fields: Mapping[str, str]):
        self.fields = fields
        self.used = {"t", "svc_v"}

    def get(self, name: str) -> str:
        value = self.fields.get(name)
        if value is None:
            raise _Bad(WireProblem.MISSING, name)
        if not isinstance(value, str):
            raise _Bad(WireProblem.BAD_VALUE, f"{name}: not a string field")
        self.used.add(name)
        return value

    def finish(self) -> None:
        extra = sorted(n for n in self.fields if n.startswith("svc_") and n not in self.used)
        if extra:
            raise _Bad(WireProblem.UNEXPECTED, ", ".join(x[:40] for x in extra[:5]))


def _decode_entry(text: str, what: str, catalog: Catalog) -> tuple[str, Entry]:
    tokens = text.split(" ")
    if len(tokens) != 12:
        raise _Bad(WireProblem.BAD_VALUE, f"{what}: {len(tokens)} tokens, not 12")
    node = lambda n: catalog.node(n) is not None  # noqa: E731
    name = _name(tokens[0], f"{what} service", lambda n: catalog.service(n) is not None)
    entry = Entry(
        enabled=_flag(tokens[1], f"{what} enabled"), frozen=_flag(tokens[2], f"{what} frozen"),
        placement=_opt_name(tokens[3], f"{what} placement", node), go=_flag(tokens[4], f"{what} go"),
        since=_number(tokens[5], f"{what} since"), generation=_number(tokens[6], f"{what} generation"),
        avoid=_name_set(tokens[7], f"{what} avoid", node), owner=_opt_name(tokens[8], f"{what} owner", node),
        last_owner=_opt_name(tokens[9], f"{what} last owner", node),
        state=_enum(ServiceState, tokens[10], f"{what} state"),
        disabled_by=None if tokens[11] == _NONE else _enum(DisabledBy, tokens[11], f"{what} disabled by"))
    return name, entry


def _decode_announce(r: _Reader, prefix: str, catalog: Catalog) -> Announce:
    node = lambda n: catalog.node(n) is not None  # noqa: E731
    sender = _name(r.get(f"{prefix}from"), f"{prefix}from", node)
    seq = _number(r.get(f"{prefix}seq"), f"{prefix}seq")
    members = _name_set(r.get(f"{prefix}members"), f"{prefix}members", node)
    count = _number(r.get(f"{prefix}n"), f"{prefix}n")
    if count != len(catalog.services):
        raise _Bad(WireProblem.UNKNOWN_NAME, f"{prefix}n: {count} services, the catalog has {len(catalog.services)}")
    table: dict[str, Entry] = {}
    previous = ""
    for i in range(count):
        name, entry = _decode_entry(r.get(f"{prefix}e{i}"), f"{prefix}e{i}", catalog)
        if table and name <= previous:  # one spelling: entries sorted by name, each once
            raise _Bad(WireProblem.BAD_VALUE, f"{prefix}e{i}: service {name[:40]!r} twice or out of order")
        table[name], previous = entry, name
    return Announce(sender, seq, members, {s: table[s] for s in catalog.names})


def _decode_pairs(text: str, what: str, known: Callable[[str], bool],
                  value: Callable[[str, str], V]) -> dict[str, V]:
    out: dict[str, V] = {}
    if text == _NONE:
        return out
    previous = ""
    for token in text.split(" "):
        key_token, colon, value_token = token.partition(":")
        if not colon:
            raise _Bad(WireProblem.BAD_VALUE, f"{what}: {token[:40]!r} is not name:value")
        key = _name(key_token, what, known)
        if out and key <= previous:
            raise _Bad(WireProblem.BAD_VALUE, f"{what}: not sorted and distinct")
        out[key], previous = value(value_token, f"{what} {key[:40]!r}"), key
    return out


def _decode(fields: Mapping[str, str], catalog: Catalog, src: str | None) -> ServiceMessage:
    t = fields.get("t")
    if t not in TYPES:
        raise _Bad(WireProblem.NOT_SERVICE, f"t={str(t)[:40]}")
    if fields.get("svc_v") != WIRE_VERSION:
        raise _Bad(WireProblem.VERSION, f"svc_v={str(fields.get('svc_v'))[:40]} (this node speaks {WIRE_VERSION})")
    size = body_size((k, v) for k, v in fields.items() if isinstance(v, str) and (k == "t" or k.startswith("svc_")))
    if size > MAX_BODY:
        raise _Bad(WireProblem.TOO_LARGE, f"{size} bytes of fields > {MAX_BODY}")
    r = _Reader(fields)
    node = lambda n: catalog.node(n) is not None  # noqa: E731
    message: ServiceMessage
    if t == ANNOUNCE:
        message = _decode_announce(r, "svc_", catalog)
        sender: str | None = message.sender
    elif t == REPORT:
        sender = _name(r.get("svc_from"), "svc_from", node)
        members = _name_set(r.get("svc_members"), "svc_members", node)
        seen = _number(r.get("svc_seen"), "svc_seen")
        local = _decode_pairs(r.get("svc_local"), "svc_local", lambda n: catalog.service(n) is not None,
                              lambda v, w: _enum(ServiceState, v, w))
        suspects = _decode_pairs(r.get("svc_suspects"), "svc_suspects", node, _number)
        last = _decode_announce(r, "svc_l_", catalog) if _flag(r.get("svc_last"), "svc_last") else None
        message = Report(sender, members, seen, last, local, suspects)
    elif t == FORWARD:
        sender = _name(r.get("svc_from"), "svc_from", node)
        request_id = _number(r.get("svc_id"), "svc_id")
        kind, op = r.get("svc_kind"), r.get("svc_op")
        service = _name(r.get("svc_service"), "svc_service", None)  # unknown: the coordinator refuses it
        target = _opt_name(r.get("svc_target"), "svc_target", None)
        if kind == "admin":
            request: AdminRequest | RecoveryRequest = AdminRequest(_enum(AdminOp, op, "svc_op"), service, target)
        elif kind == "recovery" and target is None:
            request = RecoveryRequest(_enum(RecoveryOp, op, "svc_op"), service)
        else:
            raise _Bad(WireProblem.BAD_VALUE, f"svc_kind={kind[:40]} with svc_target={'-' if target is None else 'set'}")
        message = Forward(sender, request_id, request)
    else:
        refusal = r.get("svc_refusal")
        message = Reply(_number(r.get("svc_id"), "svc_id"),
                        None if refusal == _NONE else _enum(Refusal, refusal, "svc_refusal"))
        sender = None
    r.finish()
    if src is not None and sender is not None and sender.lower() != src.lower():
        raise _Bad(WireProblem.SENDER, f"svc_from {sender[:40]!r}, src {src[:40]!r}")
    return message


def decode(fields: Mapping[str, str], catalog: Catalog, src: str | None = None) -> ServiceMessage | WireError:
    """A received message's fields to a service message, or a WireError saying why it is dropped. Never raises.

    `src`: the transport's (authenticated) sender; a message claiming another sender is refused."""
    try:
        return _decode(fields, catalog, src)
    except _Bad as exc:
        return WireError(exc.problem, str(exc))


# --- the catalog's largest message ---------------------------------------------------------------------

def largest_message_size(catalog: Catalog) -> int:
    """The body size of the largest message this catalog can produce: a Report from a node that holds every
    service in the longest state, with every other node suspect, carrying an Announce whose every entry
    names the longest node name in every slot and every node as avoided, all numbers at 15 digits."""
    nodes = frozenset(n.name for n in catalog.nodes)
    longest = max(nodes, key=lambda n: len(_q(n).encode()), default="x")
    state = max(ServiceState, key=lambda s: len(s.name))
    entry = Entry(True, True, longest, True, MAX_NUMBER, MAX_NUMBER, nodes, longest, longest, state,
                  max(DisabledBy, key=lambda d: len(d.name)))
    announce = Announce(longest, MAX_NUMBER, nodes, {s: entry for s in catalog.names})
    report = Report(longest, nodes, MAX_NUMBER, announce, {s: state for s in catalog.names},
                    {n: MAX_NUMBER for n in nodes})
    return body_size(_fields(report))


def check_catalog(catalog: Catalog) -> list[str]:
    """Why this catalog cannot run on the wire (empty: it can): a name the decoder would refuse, or a largest
    message beyond one datagram (fewer services or shorter names fix it)."""
    problems = [f"{kind} name {name[:60]!r} is longer than {MAX_NAME} characters or not printable"
                for kind, name in [("node", n.name) for n in catalog.nodes] + [("service", s) for s in catalog.names]
                if not name or len(name) > MAX_NAME or not name.isprintable()]
    size = largest_message_size(catalog)
    if size > MAX_BODY:
        problems.append(f"{len(catalog.services)} services on {len(catalog.nodes)} nodes: the largest service "
                        f"message would take {size} bytes, more than one datagram ({MAX_BODY}); use fewer "
                        f"services or shorter names")
    return problems
