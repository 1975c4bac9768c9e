"""The link monitor's netlink side (hbd/runtime/link_monitor.py) on kernel-format messages built with
pyroute2: carrier from IFF_LOWER_UP, a deleted interface has no carrier, a report only when the set of
groups without carrier changes and only once the initial dump is complete, the admin's log lines."""
from __future__ import annotations

import asyncio
import logging
import struct
from pathlib import Path
from typing import Any

import pytest

from hbd.cli.main import dispatch
from hbd.core.link_rule import VipCarrier
from hbd.runtime import link_monitor as lm
from pyroute2.netlink import NLMSG_DONE
from pyroute2.netlink.rtnl import RTM_DELLINK, RTM_NEWLINK
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from heartbeat_files import hacf_of, write_dir

UP, LOWER_UP = 0x1, lm.IFF_LOWER_UP


def link(name: str, flags: int, kind: int = RTM_NEWLINK, operstate: str = "UP", index: int = 2) -> bytes:
    msg = ifinfmsg()
    msg["index"], msg["flags"] = index, flags
    msg["attrs"] = [("IFLA_IFNAME", name), ("IFLA_OPERSTATE", operstate)]
    msg["header"]["type"] = kind
    msg.encode()
    return bytes(msg.data)


def done() -> bytes:
    return struct.pack("IHHIIi", 20, int(NLMSG_DONE), 2, 0, 0, 0)  # nlmsghdr (NLM_F_MULTI) + error 0


class FakeSocket:
    def __init__(self) -> None:
        self.queue: list[bytes] = []
        self.sent: list[bytes] = []

    def recv(self, size: int) -> bytes:
        if not self.queue:
            raise BlockingIOError
        return self.queue.pop(0)

    def send(self, data: bytes) -> int:
        self.sent.append(data)
        return len(data)


def monitor(groups: dict[str, tuple[str, ...]]) -> tuple[lm.LinkMonitor, FakeSocket, list[VipCarrier]]:
    reports: list[VipCarrier] = []
    mon = lm.LinkMonitor({}, lambda node: None, reports.append)  # type: ignore[arg-type,return-value]
    mon.loop = asyncio.new_event_loop()
    mon.table = lm.LinkTable(groups)
    fake = FakeSocket()
    mon.sock = fake  # type: ignore[assignment]
    mon._dump()
    return mon, fake, reports


def feed(mon: lm.LinkMonitor, fake: FakeSocket, *datagrams: bytes) -> None:
    fake.queue.extend(datagrams)
    mon._readable()


def test_messages_of_a_datagram_are_decoded() -> None:
    data = link("eth0", UP | LOWER_UP) + link("eth1", UP, operstate="LOWERLAYERDOWN", index=3) + done()
    got = [(kind, msg.get_attr("IFLA_IFNAME") if kind != NLMSG_DONE else None) for kind, msg in lm.link_messages(data)]
    assert got == [(RTM_NEWLINK, "eth0"), (RTM_NEWLINK, "eth1"), (NLMSG_DONE, None)]
    assert len(lm.dump_request(1)) == 32


def test_reports_wait_for_the_dump_then_only_changes(caplog: pytest.LogCaptureFixture) -> None:
    mon, fake, reports = monitor({"g1": ("eth0",), "g2": ("eth1",)})
    try:
        assert len(fake.sent) == 1  # the initial dump was asked for
        feed(mon, fake, link("eth0", UP | LOWER_UP))
        assert reports == []  # the dump is not complete yet
        feed(mon, fake, link("eth1", UP | LOWER_UP, index=3) + done())
        assert reports == [VipCarrier(frozenset(), ())]
        with caplog.at_level(logging.INFO, logger="hbd.link"):
            feed(mon, fake, link("eth0", UP, operstate="LOWERLAYERDOWN"))
            assert reports[-1] == VipCarrier(frozenset({"g1"}), ("eth0",))
            feed(mon, fake, link("eth0", UP, operstate="LOWERLAYERDOWN"), link("lo", UP | LOWER_UP, index=1))
            assert len(reports) == 2  # nothing changed for a watched interface
            feed(mon, fake, link("eth0", UP | LOWER_UP))
            assert reports[-1] == VipCarrier(frozenset(), ())
            feed(mon, fake, link("eth1", 0, kind=RTM_DELLINK, index=3))
            assert reports[-1] == VipCarrier(frozenset({"g2"}), ("eth1",))
        lines = [r.getMessage() for r in caplog.records]
        assert lines == ["link: eth0 lost carrier (LOWERLAYERDOWN)", "link: eth0 carrier back",
                         "link: eth1 lost carrier (GONE)"]
        state = {i["name"]: (i["carrier"], i["operstate"], i["groups"]) for i in mon.describe()}
        assert state == {"eth0": (True, "UP", ["g1"]), "eth1": (False, "GONE", ["g2"])}
    finally:
        assert mon.loop is not None
        mon.loop.close()


def test_an_interface_the_kernel_never_named_has_no_carrier(caplog: pytest.LogCaptureFixture) -> None:
    mon, fake, reports = monitor({"g1": ("eth9",)})
    try:
        with caplog.at_level(logging.INFO, logger="hbd.link"):
            feed(mon, fake, link("eth0", UP | LOWER_UP) + done())
        assert reports == [VipCarrier(frozenset({"g1"}), ("eth9",))]
        down, up = lm.LinkTable({"g1": ("eth0",)}), link("eth0", UP)
        first = down.apply(RTM_NEWLINK, next(lm.link_messages(up))[1], 0)
        assert first is not None and first[1] is None and first[0].carrier is False
    finally:
        assert mon.loop is not None
        mon.loop.close()


def test_interfaces_of_asks_the_address_agents_only(caplog: pytest.LogCaptureFixture) -> None:
    class Vip:
        claims_addresses = True

        def link_interfaces(self) -> tuple[str, ...]:
            return ("eth0",)

    class Other:
        claims_addresses = False

        def link_interfaces(self) -> tuple[str, ...]:
            raise AssertionError("not an address resource")

    from hbd.config.model import ResourceNode
    root = ResourceNode("group", "g1", children=(ResourceNode("IPaddr2", "192.0.2.50/24"),
                                                 ResourceNode("IPaddr2", "192.0.2.51/24"),
                                                 ResourceNode("lsb", "db")))
    class Unplaced(Vip):
        def link_interfaces(self) -> tuple[str, ...]:
            return ()

    resolve: Any = lambda node: Vip() if node.type == "IPaddr2" else Unplaced() if node.type == "IPaddr" else Other()
    with caplog.at_level(logging.INFO, logger="hbd.link"):
        got = lm.interfaces_of({"g1": root, "g2": ResourceNode("group", "g2"),
                                "g3": ResourceNode("group", "g3", children=(ResourceNode("IPaddr", "198.51.100.9"),))},
                               resolve)
    assert got == {"g1": ("eth0",)}
    assert [r.getMessage() for r in caplog.records] == [
        "link: group g3: 198.51.100.9: no interface found here; its carrier is not watched"]


def test_the_switch_is_checked_by_config_check_and_read_by_the_daemon(capsys: pytest.CaptureFixture[str],
                                                                      tmp_path: Path) -> None:
    base = "bcast lo\nnode n1 n2\n"
    for text, expected in (("", True), ("link_monitor off\n", False), ("link_monitor off\nlink_monitor yes\n", True)):
        hacf, problems = hacf_of(tmp_path, base + text)
        assert hacf is not None and all(p.severity == "warning" for p in problems)
        assert lm.enabled(hacf) is expected  # given twice: a warning, the last value is used
    directory = write_dir(tmp_path, base + "link_monitor sometimes\n")
    assert dispatch(["config", "check", "-c", str(directory), "--node", "n1"]) == 1
    errors = [ln for ln in capsys.readouterr().out.splitlines() if ": error: " in ln]
    assert len(errors) == 1 and errors[0].startswith(f"{directory}/ha.cf:3: error: link_monitor") and \
        "not a boolean" in errors[0], errors


def test_the_real_socket_subscribes_dumps_and_reports_from_the_loop() -> None:
    """A real rtnetlink socket of this namespace, read by the loop: only read, no interface is touched."""
    class Loopback:
        claims_addresses = True

        def link_interfaces(self) -> tuple[str, ...]:
            return ("lo", "hbd-absent0")

    class Plain:
        claims_addresses = False

    from hbd.config.model import ResourceNode
    roots = {"g1": ResourceNode("group", "g1", children=(ResourceNode("IPaddr2", "127.0.0.2/8/lo"),)),
             "g2": ResourceNode("group", "g2")}

    async def run() -> list[VipCarrier]:
        reports: list[VipCarrier] = []
        got = asyncio.Event()
        def report(carrier: VipCarrier) -> None:
            reports.append(carrier)
            got.set()

        resolve: Any = lambda node: Loopback() if node.type == "IPaddr2" else Plain()
        mon = lm.LinkMonitor(roots, resolve, report)
        mon.start(asyncio.get_running_loop())
        try:
            await asyncio.wait_for(got.wait(), 10)
            assert mon.sock is not None
            return reports
        finally:
            mon.close()
            assert mon.sock is None

    reports = asyncio.run(run())
    # lo has carrier (LOWER_UP); an interface the kernel does not have, none
    assert reports == [VipCarrier(frozenset({"g1"}), ("hbd-absent0",))]
