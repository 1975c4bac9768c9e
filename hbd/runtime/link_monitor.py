"""Carrier of the VIP interfaces, from the kernel's link events (doc/monitoring.md, "Link of the VIP
interfaces"); reported to the node core as `VipCarrier` only when the set of groups without carrier changes.

Which interfaces: those the groups' address resources resolve on this node (`Agent.link_interfaces`: IPaddr2
names the interface it was given, or the one the connected route holding the address leaves by), resolved
once at start in a thread (the agents' netlink calls block). Carrier is IFF_LOWER_UP (what `ip link` shows as
LOWER_UP; operstate is shown in status). A missing interface has no carrier.

One rtnetlink socket bound to RTMGRP_LINK, read from the daemon's loop (add_reader): the kernel sends a
message on every change, so nothing is polled. The initial state is one RTM_GETLINK dump on the same socket
after the bind, so no change between the dump and the subscription is lost. If the socket's buffer ever
overflowed (ENOBUFS: events were lost), the state is dumped again. Messages are parsed with pyroute2's
ifinfmsg; the socket is the standard library's, because pyroute2's synchronous IPRoute runs an event loop
of its own, which cannot run inside the daemon's.
"""
from __future__ import annotations

import asyncio
import errno
import logging
import socket
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from hbd import pyroute2_lean  # noqa: F401  (first: pyroute2's modules without its package __init__)
from pyroute2.netlink import NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE
from pyroute2.netlink.rtnl import RTM_DELLINK, RTM_GETLINK, RTM_NEWLINK, RTMGRP_LINK
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from hbd.agents.base import Agent
from hbd.config.model import HaCf, ResourceNode
from hbd.config.units import parse_bool
from hbd.core.link_rule import VipCarrier
from hbd.errors import AgentError
from hbd.runtime.logsetup import log_hb
from hbd.runtime.preprobe import vip_nodes

LOG = logging.getLogger("hbd.link")
IFF_LOWER_UP = 0x10000
READ_BATCH = 64  # datagrams per wake-up at most (bounded: the rest waits for the next one)
RECV_BYTES = 65536


@dataclass
class Interface:
    name: str
    carrier: bool | None = None  # None: not seen in the kernel's answer yet
    operstate: str = "UNKNOWN"
    since_ms: int | None = None  # when the carrier last changed (or was first seen)


def enabled(hacf: HaCf) -> bool:
    """ha.cf `link_monitor on|off` (default on; the last line wins). The value was checked by the ha.cf
    parser's bool rule (hacf_directives.py), which `hbd config check` and the daemon's load both run."""
    values = [d.value for d in hacf.directives if d.name == "link_monitor"]
    return parse_bool(values[-1]) if values else True


def interfaces_of(roots: Mapping[str, ResourceNode], resolve: Callable[[ResourceNode], Agent]
                  ) -> dict[str, tuple[str, ...]]:
    """Group key -> the interfaces its address resources need (the agents' own answer; blocking I/O)."""
    out: dict[str, tuple[str, ...]] = {}
    for key, root in roots.items():
        found: list[str] = []
        for node in vip_nodes(root, resolve):
            try:
                names = resolve(node).link_interfaces()
            except (AgentError, OSError) as error:
                names, why = (), f" ({error})"
            else:
                why = ""
            if not names:  # the agent could not place its address here (no such interface, no route)
                log_hb(LOG, "WARN", f"link: group {key}: {node.primary}: no interface found here{why}; its "
                                    "carrier is not watched")
            found += [i for i in names if i not in found]
        if found:
            out[key] = tuple(found)
    return out


def link_messages(data: bytes) -> Iterator[tuple[int, ifinfmsg]]:
    """(message type, decoded ifinfmsg) of every RTM_NEWLINK / RTM_DELLINK in a netlink datagram; the end of
    a dump comes out as (NLMSG_DONE, an empty message)."""
    offset = 0
    while offset + 16 <= len(data):
        length, kind = struct.unpack_from("IH", data, offset)
        if length < 16 or offset + length > len(data):
            break
        if kind in (RTM_NEWLINK, RTM_DELLINK):
            msg = ifinfmsg(data, offset=offset, length=length)
            msg.decode()
            yield kind, msg
        elif kind == NLMSG_DONE:
            yield kind, ifinfmsg()
        offset += (length + 3) & ~3


def dump_request(seq: int) -> bytes:
    msg = ifinfmsg()
    msg["family"] = socket.AF_UNSPEC
    msg["header"]["type"] = RTM_GETLINK
    msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_DUMP
    msg["header"]["sequence_number"] = seq
    msg.encode()
    return bytes(msg.data)


class LinkTable:
    """The watched interfaces' carrier and the groups that need them (pure: messages and times in)."""

    def __init__(self, groups: Mapping[str, tuple[str, ...]]):
        self.groups = dict(groups)
        self.interfaces = {name: Interface(name) for names in groups.values() for name in names}

    def apply(self, kind: int, msg: ifinfmsg, now_ms: int) -> tuple[Interface, bool | None] | None:
        """A link message: (the interface, its carrier before; None: first seen) when a watched interface's
        carrier changed."""
        found = self.interfaces.get(str(msg.get_attr("IFLA_IFNAME")))
        if found is None:
            return None
        carrier = kind == RTM_NEWLINK and bool(msg["flags"] & IFF_LOWER_UP)
        found.operstate = "GONE" if kind == RTM_DELLINK else str(msg.get_attr("IFLA_OPERSTATE") or "UNKNOWN")
        before = found.carrier
        if before == carrier:
            return None
        found.carrier, found.since_ms = carrier, now_ms
        return found, before

    def report(self) -> VipCarrier:
        """Groups with an interface without carrier (never seen by the kernel: none)."""
        dead = tuple(sorted(i.name for i in self.interfaces.values() if not i.carrier))
        down = frozenset(k for k, names in self.groups.items() if set(names) & set(dead))
        return VipCarrier(down, dead)

    def describe(self, now_ms: int) -> list[dict[str, object]]:
        """Each watched interface for `hbd status`: carrier, operstate, for how long, the groups needing it."""
        return [{"name": i.name, "carrier": bool(i.carrier), "operstate": i.operstate,
                 "since_s": None if i.since_ms is None else round((now_ms - i.since_ms) / 1000, 3),
                 "groups": sorted(k for k, names in self.groups.items() if i.name in names)}
                for i in self.interfaces.values()]


class LinkMonitor:
    """Runs on the daemon's loop: `start(loop)`, `close()`; `report(VipCarrier)` on every change."""

    def __init__(self, roots: Mapping[str, ResourceNode], resolve: Callable[[ResourceNode], Agent],
                 report: Callable[[VipCarrier], None]):
        self.roots, self.resolve, self.report = roots, resolve, report
        self.table: LinkTable | None = None
        self.sock: socket.socket | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.seq = 0
        self.dumping = False
        self.reported: VipCarrier | None = None
        self.closed = False

    def _now_ms(self) -> int:
        assert self.loop is not None
        return round(self.loop.time() * 1000)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Resolve the interfaces in a thread, then subscribe and dump (on the loop)."""
        self.loop = loop
        future = loop.run_in_executor(None, interfaces_of, self.roots, self.resolve)
        future.add_done_callback(self._resolved)

    def _resolved(self, future: "asyncio.Future[dict[str, tuple[str, ...]]]") -> None:
        if self.closed or future.cancelled() or self.loop is None or self.loop.is_closed():
            return
        error = future.exception()
        if error is not None:
            log_hb(LOG, "ERROR", f"link: VIP interfaces not resolved ({error}): carrier not watched")
            return
        groups = future.result()
        if not groups:
            return  # no address resource: nothing to watch, nothing reported (the rule stays off)
        self.table = LinkTable(groups)
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC,
                             socket.NETLINK_ROUTE)
        sock.bind((0, RTMGRP_LINK))
        self.sock = sock
        self.loop.add_reader(sock.fileno(), self._readable)
        watched = ", ".join(f"{i} ({', '.join(sorted(k for k, n in groups.items() if i in n))})"
                            for i in self.table.interfaces)
        log_hb(LOG, "info", f"link: watching the carrier of {watched}")
        self._dump()

    def _dump(self) -> None:
        assert self.sock is not None
        self.seq += 1
        self.dumping = True
        try:
            self.sock.send(dump_request(self.seq))
        except OSError as error:  # never seen: the kernel accepts a dump request at any time
            log_hb(LOG, "ERROR", f"link: cannot ask the kernel for the links ({error})")

    def _readable(self) -> None:
        assert self.sock is not None and self.table is not None
        for _ in range(READ_BATCH):
            try:
                data = self.sock.recv(RECV_BYTES)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as error:
                if error.errno == errno.ENOBUFS:  # events were lost: read the whole state again
                    log_hb(LOG, "WARN", "link: netlink buffer overflowed; reading the links again")
                    self._dump()
                    continue
                log_hb(LOG, "ERROR", f"link: netlink socket error ({error})")
                break
            for kind, msg in link_messages(data):
                if kind == NLMSG_DONE:
                    self.dumping = False
                    continue
                changed = self.table.apply(kind, msg, self._now_ms())
                if changed is not None:
                    self._log(*changed)
        if not self.dumping:
            self._judge()

    def _log(self, iface: Interface, before: bool | None) -> None:
        if before is None or self.reported is None:  # the first state: said once, when it is bad
            if not iface.carrier:
                log_hb(LOG, "WARN", f"link: {iface.name} has no carrier ({iface.operstate})")
        elif not iface.carrier:
            log_hb(LOG, "WARN", f"link: {iface.name} lost carrier ({iface.operstate})")
        else:
            log_hb(LOG, "info", f"link: {iface.name} carrier back")

    def _judge(self) -> None:
        assert self.table is not None
        now = self.table.report()
        if self.reported is not None and now.down == self.reported.down and now.interfaces == self.reported.interfaces:
            return
        self.reported = now
        self.report(now)

    def describe(self) -> list[dict[str, object]]:
        return [] if self.table is None or self.loop is None else self.table.describe(self._now_ms())

    def close(self) -> None:
        self.closed = True
        if self.sock is not None and self.loop is not None:
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None
