"""ha.cf media lines (`bcast`, `mcast`, `mcast6`, `ucast`, `ucast6`) and ping addresses, as typed values.

Only what the file itself can tell is checked here. Whether an interface exists is a fact of the
machine the daemon runs on: `hbd config check` warns about it, and the daemon fails at start.
Each function raises ValueError with a reason; the caller adds file and line.
"""
from __future__ import annotations

import ipaddress
import re

from hbd.config.model import Medium

IFNAMSIZ = 16  # the kernel's limit, including the terminating NUL
_HOSTNAME = re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?")
_DOTTED_QUAD = re.compile(r"[0-9]+(?:\.[0-9]+){3}")
WHITESPACE = " \t\f\v\r\n"


def check_interface(name: str) -> str:
    if not name:
        raise ValueError("missing interface name")
    if len(name) >= IFNAMSIZ:
        raise ValueError(f"'{name}' is not an interface name (longer than {IFNAMSIZ - 1} characters)")
    if "/" in name or name in (".", "..") or any(c in WHITESPACE for c in name) or not name.isprintable():
        raise ValueError(f"'{name}' is not an interface name")
    return name


def check_host(text: str) -> str:
    """An IPv4 address or a host name (resolved when the daemon starts, as Heartbeat does)."""
    if _DOTTED_QUAD.fullmatch(text):
        try:
            return str(ipaddress.IPv4Address(text))
        except ValueError:
            raise ValueError(f"'{text}' is not a valid IPv4 address") from None
    if not _HOSTNAME.fullmatch(text):
        raise ValueError(f"'{text}' is neither an IPv4 address nor a host name")
    return text


def _number(field: str, text: str, low: int, high: int) -> int:
    if not re.fullmatch(r"[0-9]+", text):
        raise ValueError(f"bad {field} [{text}]: not a number")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"bad {field} [{text}]: must be {low}-{high}")
    return value


def _fields(kind: str, rest: str, names: tuple[str, ...]) -> tuple[list[str], list[str]]:
    words = rest.split()
    for i, name in enumerate(names):
        if len(words) <= i:
            usage = f"{kind} " + " ".join(n.upper() for n in names)
            raise ValueError(f"{kind} line is missing its {name} (syntax: {usage})")
    return words[: len(names)], words[len(names):]


def parse_bcast(interface: str, port: int, line: int) -> Medium:
    return Medium("bcast", check_interface(interface), port=port, line=line)


def parse_mcast(kind: str, rest: str, line: int) -> tuple[Medium, list[str]]:
    """`mcast IFACE GROUP PORT TTL LOOP` (IPv4) or `mcast6 IFACE GROUP PORT HOPS LOOP`; extra words are returned."""
    v6 = kind == "mcast6"
    names = ("interface", "group", "port", "hops" if v6 else "ttl", "loop")
    (iface, group, port, ttl, loop), extra = _fields(kind, rest, names)
    check_interface(iface)
    try:
        address = ipaddress.IPv6Address(group) if v6 else ipaddress.IPv4Address(group)
    except ValueError:
        raise ValueError(f"{kind} {iface}: bad addr [{group}]: not an IPv{6 if v6 else 4} address") from None
    if not address.is_multicast:
        raise ValueError(f"{kind} {iface}: bad addr [{group}]: not a multicast group "
                         f"({'ff00::/8' if v6 else '224.0.0.0/4'})")
    # Heartbeat allows a ttl (hops) of 0-4 only, whatever its manual says.
    medium = Medium(
        kind,  # type: ignore[arg-type]
        iface,
        port=_number(f"{kind} {iface} port", port, 1, 65535),
        address=str(address),
        ttl=_number(f"{kind} {iface} {names[3]}", ttl, 0, 4),
        loop=bool(_number(f"{kind} {iface} loop", loop, 0, 1)),
        line=line,
    )
    if v6 and medium.loop:
        # Heartbeat forces loop off for IPv6 multicast.
        medium = Medium(medium.kind, iface, medium.port, medium.address, medium.ttl, False, line)
    return medium, extra


def parse_ucast(kind: str, rest: str, port: int, line: int) -> tuple[Medium, list[str]]:
    """`ucast IFACE PEER` or `ucast6 IFACE ADDR[%scope]`; words after the peer are returned (Heartbeat ignores them)."""
    (iface, peer), extra = _fields(kind, rest, ("interface", "peer"))
    check_interface(iface)
    if kind == "ucast6":
        address, _, scope = peer.partition("%")
        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            raise ValueError(f"ucast6 {iface}: '{peer}' is not an IPv6 address") from None
        if "%" in peer:
            check_interface(scope)
    else:
        peer = check_host(peer)
    return Medium(kind, iface, port=port, address=peer, line=line), extra  # type: ignore[arg-type]
