"""What an IPaddr2 resource asks for, parsed once at the boundary into typed values.

Two sources: Heartbeat's `ip[/nm[/iface[:label]][/broadcast]]` argument (heartbeat.md §4.3) and the
attributes of a cluster.conf `<ip>` element (rgmanager.md §4.2), plus hbd's own announcement settings.
Parsing is pure and raises `AgentError` with a clear reason before anything is touched.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from typing import Mapping

from hbd.errors import AgentError

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

LABEL_MAX = 15  # IFNAMSIZ - 1: the kernel refuses longer address labels
DEFAULT_PROBE_MS = 200
DEFAULT_GARP_COUNT = 5
DEFAULT_GARP_INTERVAL_MS = 100


@dataclass(frozen=True)
class IpSpec:
    address: IpAddress
    prefix: int | None = None  # None: taken from the connected route
    iface: str | None = None  # None: found from the routes
    label: str | None = None
    broadcast: ipaddress.IPv4Address | None = None
    monitor_link: bool = False
    sleeptime_s: float = 0.0  # pause after removing the address (rgmanager `sleeptime`)
    probe_ms: int = DEFAULT_PROBE_MS  # 0 disables the duplicate-address probe
    garp_count: int = DEFAULT_GARP_COUNT  # announcement pairs (IPv4) or advertisements (IPv6), first included
    garp_interval_ms: int = DEFAULT_GARP_INTERVAL_MS
    alias_label: bool = False  # IPaddr: label the address with the first free `iface:N`, as its alias device
    warnings: tuple[str, ...] = ()

    @property
    def family(self) -> int:
        return self.address.version

    @property
    def text(self) -> str:
        return f"{self.address}/{self.prefix}" if self.prefix is not None else str(self.address)


def _address(text: str) -> IpAddress:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise AgentError(f"'{text}' is not an IPv4 or IPv6 address") from None


def _prefix(text: str, address: IpAddress) -> tuple[int, str | None]:
    """A prefix length, or a dotted IPv4 netmask (accepted with Heartbeat's warning)."""
    limit = address.max_prefixlen
    if text.isdigit():
        value = int(text)
        if not 0 < value <= limit:
            raise AgentError(f"prefix length {value} out of range 1..{limit} for {address}")
        return value, None
    if address.version == 4:
        try:
            net = ipaddress.IPv4Network(f"0.0.0.0/{text}")
        except (ValueError, ipaddress.NetmaskValueError):
            raise AgentError(f"'{text}' is neither a prefix length nor a contiguous netmask") from None
        return net.prefixlen, f"Please convert dotted quad netmask {text} to CIDR notation {net.prefixlen}!"
    raise AgentError(f"'{text}' is not a prefix length for {address}")


def _iface_and_label(text: str) -> tuple[str, str | None]:
    iface, sep, _ = text.partition(":")
    if not iface or len(iface) > LABEL_MAX or "/" in iface or " " in iface:
        raise AgentError(f"bad interface name '{iface}'")
    if not sep:
        return iface, None
    if len(text) > LABEL_MAX:
        raise AgentError(f"label '{text}' is longer than {LABEL_MAX} characters")
    return iface, text


def _broadcast(text: str, address: IpAddress) -> ipaddress.IPv4Address:
    if address.version != 4:
        raise AgentError(f"a broadcast address ({text}) makes no sense for IPv6 address {address}")
    value = _address(text)
    if not isinstance(value, ipaddress.IPv4Address):
        raise AgentError(f"broadcast '{text}' is not an IPv4 address")
    return value


def parse_heartbeat(arg: str) -> IpSpec:
    """`ip[/nm[/iface[:label]][/broadcast]]`: the third field is a broadcast when it starts with a digit."""
    fields = arg.strip().split("/")
    if not fields[0] or len(fields) > 4:
        raise AgentError(f"bad IPaddr2 argument '{arg}': expected ip[/netmask[/interface[:label]][/broadcast]]")
    address = _address(fields[0])
    spec = IpSpec(address)
    warnings: list[str] = []
    if len(fields) > 1 and fields[1]:
        prefix, warning = _prefix(fields[1], address)
        spec = replace(spec, prefix=prefix)
        warnings += [warning] if warning else []
    rest = fields[2:]
    if rest and rest[0] and rest[0][0].isdigit():
        if len(rest) > 1:
            raise AgentError(f"bad IPaddr2 argument '{arg}': nothing may follow the broadcast address")
        spec = replace(spec, broadcast=_broadcast(rest[0], address))
    elif rest and rest[0]:
        iface, label = _iface_and_label(rest[0])
        if label and address.version == 6:
            raise AgentError(f"address labels ({label}) exist only for IPv4")
        spec = replace(spec, iface=iface, label=label)
        if len(rest) > 1 and rest[1]:
            spec = replace(spec, broadcast=_broadcast(rest[1], address))
    return replace(spec, warnings=tuple(warnings))


def as_ipaddr(spec: IpSpec) -> IpSpec:
    """Heartbeat's IPaddr (what a bare address in haresources means): an `iface:N` alias label when none
    is given, and its announcement defaults, 10 rounds 500 ms apart (heartbeat.md §4.3)."""
    return replace(spec, alias_label=spec.label is None and spec.family == 4, garp_count=10, garp_interval_ms=500)


def _bool(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "yes", "on", "true"):
        return True
    if v in ("0", "no", "off", "false", ""):
        return False
    raise AgentError(f"{name}='{value}' is not a boolean (1/0, yes/no)")


def _number(name: str, value: str, kind: type = int) -> float:
    try:
        number = float(kind(value))
    except ValueError:
        raise AgentError(f"{name}='{value}' is not a number") from None
    if number < 0:
        raise AgentError(f"{name}='{value}' must not be negative")
    return number


def parse_cluster_attrs(attrs: Mapping[str, str | None]) -> IpSpec:
    """A cluster.conf `<ip>`: address (with optional /prefix), family, monitor_link, sleeptime,
    prefer_interface, plus hbd's arp_probe_ms, garp_count, garp_interval_ms."""
    text = attrs.get("address")
    if not text:
        raise AgentError("ip: the address attribute is required")
    addr_text, _, prefix_text = text.partition("/")
    address = _address(addr_text)
    family = (attrs.get("family") or "auto").lower()
    expected = {"inet": 4, "inet6": 6, "auto": address.version}.get(family)
    if expected is None:
        raise AgentError(f"ip: family='{family}' is not one of auto, inet, inet6")
    if expected != address.version:
        raise AgentError(f"ip: address {address} is not of family {family}")
    spec = IpSpec(address, monitor_link=_bool("monitor_link", attrs.get("monitor_link") or "1"))
    if prefix_text:
        spec = replace(spec, prefix=_prefix(prefix_text, address)[0])
    if attrs.get("prefer_interface"):
        spec = replace(spec, iface=_iface_and_label(attrs["prefer_interface"] or "")[0])
    if attrs.get("sleeptime"):
        spec = replace(spec, sleeptime_s=_number("sleeptime", attrs["sleeptime"] or "", float))
    return with_hbd_settings(spec, attrs)


def with_hbd_settings(spec: IpSpec, attrs: Mapping[str, str | None]) -> IpSpec:
    """hbd's own settings (duplicate probe, announcement burst) and monitor_link, where given."""
    if attrs.get("monitor_link"):
        spec = replace(spec, monitor_link=_bool("monitor_link", attrs["monitor_link"] or ""))
    if attrs.get("arp_probe_ms"):
        spec = replace(spec, probe_ms=int(_number("arp_probe_ms", attrs["arp_probe_ms"] or "")))
    if attrs.get("garp_count"):
        count = int(_number("garp_count", attrs["garp_count"] or ""))
        if count < 1:
            raise AgentError("garp_count must be at least 1")
        spec = replace(spec, garp_count=count)
    if attrs.get("garp_interval_ms"):
        spec = replace(spec, garp_interval_ms=int(_number("garp_interval_ms", attrs["garp_interval_ms"] or "")))
    return spec
