"""The `vip_links` object of `hbd status` (hbd/runtime/link_status.py): the watched interfaces' carrier,
the groups without carrier here and on the peer; valid against doc/status.schema.json; its text lines."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from hbd.core.holdings import GroupInfo, Topology
from hbd.core.link_rule import LinkState, VipCarrier
from hbd.runtime import link_status
from hbd.runtime.link_monitor import LinkTable, link_messages
from pyroute2.netlink.rtnl import RTM_NEWLINK
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (setup.cfg test extra; Debian python3-jsonschema)")
SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "doc" / "status.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA["properties"]["vip_links"])
TOPOLOGY = Topology((GroupInfo("g1", "n1"), GroupInfo("g2", "n2")))


def eth0(flags: int) -> ifinfmsg:
    msg = ifinfmsg()
    msg["flags"], msg["attrs"] = flags, [("IFLA_IFNAME", "eth0"), ("IFLA_OPERSTATE", "LOWERLAYERDOWN")]
    msg["header"]["type"] = RTM_NEWLINK
    msg.encode()
    return next(link_messages(bytes(msg.data)))[1]


def test_block_validates_and_reads_for_people() -> None:
    table = LinkTable({"g1": ("eth0",), "g2": ("eth0",)})
    table.apply(RTM_NEWLINK, eth0(0x1), 1000)
    state = LinkState(hold_ms=600)
    state.observe(1000, VipCarrier(frozenset({"g1", "g2"}), ("eth0",)))
    unknown = link_status.block(table.describe(4000), state, TOPOLOGY)
    assert unknown == {"interfaces": [{"name": "eth0", "carrier": False, "operstate": "LOWERLAYERDOWN",
                                       "since_s": 3.0, "groups": ["g1", "g2"]}],
                       "down_here": ["g1", "g2"], "down_on_peer": None}
    state.observe_peer(frozenset())
    known = link_status.block(table.describe(4000), state, TOPOLOGY)
    for block in (unknown, known):
        assert not list(VALIDATOR.iter_errors(block))
    assert list(VALIDATOR.iter_errors({**known, "down_here": "g1"}))  # the check can fail
    text = "\n".join(link_status.format_lines(known))
    assert "VIP link eth0: NO CARRIER (LOWERLAYERDOWN) for 3.0 s (groups g1 g2)" in text
    assert "groups without VIP carrier: here g1 g2; on the peer none" in text
    assert "on the peer not reported" in "\n".join(link_status.format_lines(unknown))
