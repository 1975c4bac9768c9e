"""The `ping` object of `hbd status` (hbd/runtime/ping_status.py): each ping node's verdict, since when, its
last reply; this node's count and the peer's; the ipfail comparison; valid against doc/status.schema.json."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from hbd.core.ipfail import Connectivity
from hbd.runtime import ping_status
from hbd.runtime.ping_monitor import PingTargets, Reachability

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (setup.cfg test extra; Debian python3-jsonschema)")
SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "doc" / "status.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA["properties"]["ping"])
TARGETS = PingTargets({"192.0.2.254": ("192.0.2.254",), "routers": ("192.0.2.1", "192.0.2.2")}, 200, 1000)


def test_reachability_describes_verdict_since_and_last_reply() -> None:
    r = Reachability(TARGETS, 0)
    assert [n["reachable"] for n in r.describe(100)] == [None, None]  # no verdict yet
    r.replied("192.0.2.2", 300)
    assert r.change(300) == {"routers"}
    r.replied("192.0.2.2", 900)
    nodes = {n["name"]: n for n in r.describe(1500)}
    assert nodes["routers"] == {"name": "routers", "hosts": ["192.0.2.1", "192.0.2.2"], "reachable": True,
                                "since_s": 1.2, "last_reply_s": 0.6}
    assert nodes["192.0.2.254"]["reachable"] is False and nodes["192.0.2.254"]["last_reply_s"] is None
    assert r.change(2000) == frozenset()  # the group's last reply is 1.1 s old: unreachable now
    assert {n["name"]: n["since_s"] for n in r.describe(2500)} == {"192.0.2.254": 2.2, "routers": 0.5}


def test_block_carries_both_counts_and_the_comparison_and_validates() -> None:
    r = Reachability(TARGETS, 0)
    r.replied("192.0.2.254", 10)
    r.change(10)
    c = Connectivity(hold_ms=600)
    c.observe(10, mine=1)
    unknown = ping_status.block(r.describe(20), c)
    assert (unknown["count"], unknown["peer_count"], unknown["compared"]) == (1, None, None)
    c.observe(20, peer=2)
    c.settle(700)
    known = ping_status.block(r.describe(700), c)
    assert (known["count"], known["peer_count"], known["compared"]) == (1, 2, "fewer")
    for block in (unknown, known):
        assert not list(VALIDATOR.iter_errors(block))
    assert list(VALIDATOR.iter_errors({**known, "compared": "worse"}))  # the check can fail
    text = "\n".join(ping_status.format_lines(known))
    assert "ping nodes: 1 of 2 reachable here, peer 2, this node reaches fewer" in text
    assert "routers (192.0.2.1 192.0.2.2): unreachable" in text and "192.0.2.254: reachable for" in text
