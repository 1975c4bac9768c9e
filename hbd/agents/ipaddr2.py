"""IPaddr2, in process: the address is added and removed over netlink (pyroute2), then announced.

start: succeed at once if the address is on the interface; else bring the link up, probe for a
duplicate (refused, naming the MAC that answers), add the address (label, broadcast), send the first
announcement at once and leave the rest of the burst to a thread or a detached child.
stop: remove the address, verify it is gone; absent already is success. status: the address is on
the interface and, with monitor_link, the link is up with carrier.
"""
from __future__ import annotations

import errno
import ipaddress
import os
import socket
import time
from typing import Callable
from dataclasses import dataclass

from hbd import pyroute2_lean  # noqa: F401  (first: pyroute2's modules without its package __init__)
from pyroute2.iproute.linux import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from hbd.agents import arp
from hbd.agents.base import (Agent, AddressClaim, AgentResult, Deadline, Op, Outcome, StartOptions, failed,
                             running, stopped)
from hbd.agents.ipaddr_spec import LABEL_MAX, IpSpec, parse_heartbeat

IFF_UP = 0x1
IFF_LOWER_UP = 0x10000
IFA_F_NODAD = 0x02
ANNOUNCE_STATUS_S = 1.0


@dataclass(frozen=True)
class Placement:
    """Where the address goes, once interface, prefix and broadcast are resolved."""

    iface: str
    index: int
    prefix: int
    broadcast: str | None


def _family(spec: IpSpec) -> int:
    return socket.AF_INET if spec.family == 4 else socket.AF_INET6


class IPaddr2(Agent):
    kind = "IPaddr2"
    claims_addresses = True

    def __init__(self, spec: IpSpec, *, background_burst: bool = True):
        self.spec = spec
        self.background_burst = background_burst
        self.burst: arp.Burst | None = None

    @classmethod
    def from_heartbeat(cls, arg: str, **kwargs: bool) -> "IPaddr2":
        return cls(parse_heartbeat(arg), **kwargs)

    def warm_up(self) -> None:
        """Import what building frames needs (a long-running daemon prepares the frames instead)."""
        arp.load_frame_builder()

    @property
    def label(self) -> str:
        return f"IPaddr2::{self.spec.text}" + (f"/{self.spec.iface}" if self.spec.iface else "")

    # --- resolution ---------------------------------------------------------------------------

    def _connected_route(self, ipr: IPRoute) -> tuple[int, int] | None:
        """(oif, prefix) of the longest connected route (no gateway) holding the address."""
        best: tuple[int, int] | None = None
        for route in ipr.get_routes(family=_family(self.spec), table=254):
            if route.get_attr("RTA_GATEWAY") or route.get_attr("RTA_OIF") is None or route["dst_len"] == 0:
                continue
            net = ipaddress.ip_network(f"{route.get_attr('RTA_DST')}/{route['dst_len']}", strict=False)
            if self.spec.address in net and (best is None or route["dst_len"] > best[1]):
                best = (route.get_attr("RTA_OIF"), route["dst_len"])
        return best

    def _base_broadcast(self, ipr: IPRoute, index: int, prefix: int) -> str | None:
        """The broadcast of an address already on the interface in the same subnet (Heartbeat's default)."""
        net = ipaddress.ip_network(f"{self.spec.address}/{prefix}", strict=False)
        for msg in ipr.get_addr(family=socket.AF_INET, index=index):
            addr = msg.get_attr("IFA_ADDRESS")
            if addr and ipaddress.ip_address(addr) in net and msg.get_attr("IFA_BROADCAST"):
                return str(msg.get_attr("IFA_BROADCAST"))
        return None

    def resolve(self, ipr: IPRoute) -> Placement | str:
        """The placement, or the reason it cannot be found (findif's `Unable to find nic or netmask`)."""
        spec = self.spec
        route = self._connected_route(ipr) if spec.iface is None or spec.prefix is None else None
        if spec.iface is not None:
            found = ipr.link_lookup(ifname=spec.iface)
            if not found:
                return f"interface {spec.iface} does not exist"
            index = found[0]
        elif route is not None:
            index = route[0]
        else:
            return f"Unable to find nic or netmask for {spec.address}: no connected route holds it"
        prefix = spec.prefix if spec.prefix is not None else (route[1] if route else None)
        if prefix is None:
            return f"Unable to find netmask for {spec.address} on {spec.iface}: no connected route holds it"
        name = ipr.get_links(index)[0].get_attr("IFLA_IFNAME")
        broadcast = None
        if spec.family == 4:
            broadcast = str(spec.broadcast) if spec.broadcast else self._base_broadcast(ipr, index, prefix)
        return Placement(name, index, prefix, broadcast)

    def _present(self, ipr: IPRoute, index: int | None = None) -> list[tuple[int, int, str | None]]:
        """(index, prefix, label) of every copy of the address (on `index` only, when given)."""
        found = []
        for msg in ipr.get_addr(family=_family(self.spec), address=str(self.spec.address)):
            if index is None or msg["index"] == index:
                found.append((msg["index"], msg["prefixlen"], msg.get_attr("IFA_LABEL")))
        return found

    # --- operations ---------------------------------------------------------------------------

    def call(self, op: Op, timeout_s: float | None = None, options: StartOptions = StartOptions()) -> AgentResult:
        try:
            return super().call(op, timeout_s, options)
        except NetlinkError as exc:
            return failed(op, f"netlink error {exc.code}: {os.strerror(exc.code)}")

    def status(self, deadline: Deadline) -> AgentResult:
        with IPRoute() as ipr:
            place = self.resolve(ipr)
            if isinstance(place, str):
                present = self._present(ipr)
                if present:
                    return failed("status", f"{self.spec.address} is present but not where configured: {place}")
                return stopped("status", f"{self.spec.address} is not configured ({place})")
            if not self._present(ipr, place.index):
                return stopped("status", f"{self.spec.address} is not on {place.iface}")
            if self.spec.monitor_link:
                flags = ipr.get_links(place.index)[0]["flags"]
                if not (flags & IFF_UP and flags & IFF_LOWER_UP):
                    return failed("status", f"link down on {place.iface}")
            return running("status", f"{self.spec.address} is on {place.iface}")

    def claimed_addresses(self) -> tuple[AddressClaim, ...]:
        """The IPv4 address with its interface and our MAC there (the pre-probe's ARP probes); the frames a
        takeover sends are built now, ahead of need. Nothing when it cannot be placed here."""
        if self.spec.family != 4:
            return ()
        with IPRoute() as ipr:
            place = self.resolve(ipr)
            if isinstance(place, str):
                return ()
            mac = str(ipr.get_links(place.index)[0].get_attr("IFLA_ADDRESS"))
        arp.prepare_frames(mac, str(self.spec.address))
        return (AddressClaim(place.iface, mac, str(self.spec.address)),)

    def link_interfaces(self) -> tuple[str, ...]:
        with IPRoute() as ipr:
            place = self.resolve(ipr)
        return () if isinstance(place, str) else (place.iface,)

    def announce_again(self) -> str:
        """Send the first announcement now and the rest of the burst from a thread; say what was done.

        After a partition heals, or when both nodes held a group and the other one released it, clients and
        switches may still map the address to the other node's MAC: the releasing node sends nothing, so
        without a fresh announcement the address is unreachable until the clients' ARP entries expire
        (observed: ~30 s). The keeper sends the same burst as a start (count and interval of the resource),
        stopping early if the address leaves."""
        if self.call("status").outcome is not Outcome.RUNNING:
            return f"{self.label}: not configured here: not announced"
        spec = self.spec
        with IPRoute() as ipr:
            place = self.resolve(ipr)
            if isinstance(place, str):
                return f"{self.label}: not announced: {place}"
            mac = str(ipr.get_links(place.index)[0].get_attr("IFLA_ADDRESS"))
        frames = arp.announcement(mac, str(spec.address))
        sock = arp.open_sender(place.iface)
        for frame in frames:
            sock.send(frame)

        def still_here() -> bool:  # asked before each round, quietly (no log line per round)
            return self.status(Deadline(ANNOUNCE_STATUS_S)).outcome is Outcome.RUNNING

        burst = arp.Burst(place.iface, frames, max(spec.garp_count - 1, 0), spec.garp_interval_ms / 1000,
                          still_held=still_here, sock=sock)
        burst.start_thread()
        return (f"Announcing {spec.address} again from {mac} on {place.iface}: {spec.garp_count} rounds, "
                f"{spec.garp_interval_ms} ms apart")

    def start_with(self, deadline: Deadline, options: StartOptions) -> AgentResult:
        """The peer released the address (or it stayed silent just before the death verdict): no probe."""
        return self._start(deadline, probe=not options.peer_released)

    def start(self, deadline: Deadline) -> AgentResult:
        return self._start(deadline, probe=True)

    def _start(self, deadline: Deadline, probe: bool) -> AgentResult:
        spec = self.spec
        actions = [f"WARNING: {w}" for w in spec.warnings]
        with IPRoute() as ipr:
            place = self.resolve(ipr)
            if isinstance(place, str):
                return failed("start", place, *actions)
            if self._present(ipr, place.index):
                return running("start", *actions, f"{spec.address} already on {place.iface}: nothing to do")
            link = ipr.get_links(place.index)[0]
            mac = str(link.get_attr("IFLA_ADDRESS"))
            frames = arp.announcement(mac, str(spec.address))  # built before the address exists: sent at once
            if not link["flags"] & IFF_UP:
                actions.append(f"Bringing device {place.iface} up")
                ipr.link("set", index=place.index, state="up")
            if probe and spec.probe_ms > 0:
                owner = arp.probe(place.iface, mac, str(spec.address), min(spec.probe_ms / 1000, deadline.remaining()))
                actions.append(f"probed {spec.address} on {place.iface} for {spec.probe_ms} ms: "
                               + (f"answered by {owner}" if owner else "no answer"))
                if owner:
                    return failed("start", f"{spec.address} is already in use by {owner} on {place.iface}", *actions)
            actions.append(self._add(ipr, place))
        actions.append(self._announce(place, mac, frames))
        return running("start", *actions)

    @staticmethod
    def _free_alias(ipr: IPRoute, place: Placement) -> str | None:
        """The first `iface:N` label not in use on the interface (IPaddr's eth0:0, eth0:1, ...)."""
        used = {msg.get_attr("IFA_LABEL") for msg in ipr.get_addr(family=socket.AF_INET, index=place.index)}
        for n in range(100):
            label = f"{place.iface}:{n}"
            if label not in used and len(label) <= LABEL_MAX:
                return label
        return None

    def _add(self, ipr: IPRoute, place: Placement) -> str:
        kwargs: dict[str, object] = {"index": place.index, "address": str(self.spec.address),
                                     "prefixlen": place.prefix, "family": _family(self.spec)}
        if place.broadcast:
            kwargs["broadcast"] = place.broadcast
        label = self.spec.label or (self._free_alias(ipr, place) if self.spec.alias_label else None)
        if label:
            kwargs["label"] = label
        if self.spec.family == 6:
            kwargs["flags"] = IFA_F_NODAD  # our own probe did the duplicate detection already
        try:
            ipr.addr("add", **kwargs)
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                raise
        what = f"inet{'6' if self.spec.family == 6 else ''} address {self.spec.address}/{place.prefix}"
        extra = f" with broadcast address {place.broadcast}" if place.broadcast else ""
        shown = f" label {label}" if label else ""
        return f"Adding {what}{extra} to device {place.iface}{shown}"

    def _announce(self, place: Placement, mac: str, frames: tuple[bytes, ...]) -> str:
        sock = arp.open_sender(place.iface)
        for frame in frames:
            sock.send(frame)
        ip = str(self.spec.address)
        kind = "gratuitous ARP pairs" if self.spec.family == 4 else "unsolicited neighbour advertisements"
        text = (f"Sending {kind} for {ip} from {mac} on {place.iface}: 1 of {self.spec.garp_count} sent, "
                f"{self.spec.garp_interval_ms} ms apart")
        if self.spec.garp_count <= 1:
            arp.close_later(sock)
            return text
        self.burst = arp.Burst(place.iface, frames, self.spec.garp_count - 1, self.spec.garp_interval_ms / 1000,
                               still_held=self._held_checker(place.index), sock=sock)
        if self.background_burst:
            self.burst.start_thread()
        return text

    def _held_checker(self, index: int) -> Callable[[], bool]:
        def held() -> bool:
            with IPRoute() as ipr:
                return bool(self._present(ipr, index))
        return held

    def stop(self, deadline: Deadline) -> AgentResult:
        actions = []
        if self.burst is not None:
            self.burst.cancel()  # never announce an address we are giving away (send_arp is killed too)
        with IPRoute() as ipr:
            place = self.resolve(ipr)
            index = None if isinstance(place, str) else place.index
            where = self._present(ipr, index)
            if not where:
                return stopped("stop", f"{self.spec.address} is not configured: nothing to do")
            for idx, prefix, _ in where:
                name = ipr.get_links(idx)[0].get_attr("IFLA_IFNAME")
                actions.append(f"Removing {self.spec.address}/{prefix} from device {name}")
                try:
                    ipr.addr("del", index=idx, address=str(self.spec.address), prefixlen=prefix,
                             family=_family(self.spec))
                except NetlinkError as exc:
                    if exc.code != errno.EADDRNOTAVAIL:
                        raise
            if self._present(ipr, index):
                return failed("stop", f"{self.spec.address} is still configured after removal", *actions)
        if self.spec.sleeptime_s > 0:
            pause = min(self.spec.sleeptime_s, deadline.remaining())
            actions.append(f"sleeping {pause:g}s after removal (sleeptime)")
            time.sleep(pause)
        return stopped("stop", *actions)
