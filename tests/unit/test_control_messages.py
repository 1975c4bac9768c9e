"""The control socket's typed requests and replies (hbd/runtime/control_messages.py)."""
from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from hbd.runtime import control_messages as c

GOOD: list[tuple[dict[str, Any], c.Request]] = [
    ({"cmd": "status"}, c.StatusRequest()),
    ({"cmd": "reload"}, c.ReloadRequest()),
    ({"cmd": "stop"}, c.StopRequest()),
    ({"cmd": "intervals"}, c.IntervalsRequest()),
    ({"cmd": "standby"}, c.HandoverRequest("standby", "all", c.ADMIN_TIMEOUT_S)),
    ({"cmd": "takeover", "which": "local", "timeout": 30}, c.HandoverRequest("takeover", "local", 30.0)),
    ({"cmd": "outdate-peer", "resource": "r0", "timeout": 2.5}, c.OutdatePeerRequest("r0", 2.5)),
    ({"cmd": "cleanup", "group": None}, c.CleanupRequest(None)),
    ({"cmd": "cleanup", "group": "192.0.2.10"}, c.CleanupRequest("192.0.2.10")),
    ({"cmd": "fence-ack", "node": "N2"}, c.FenceAckRequest("n2")),
]


@pytest.mark.parametrize("wire, typed", GOOD)
def test_every_request_the_cli_sends_decodes(wire: dict[str, Any], typed: c.Request) -> None:
    assert c.decode(wire) == typed
    assert c.decode(c.encode(typed)) == typed


@pytest.mark.parametrize("wire, words", [
    ([], '"cmd"'), ({}, '"cmd"'), ({"cmd": 3}, '"cmd"'), ({"cmd": "boom"}, "unknown command 'boom'"),
    ({"cmd": "status", "verbose": True}, "unknown key(s) verbose"),
    ({"cmd": "standby", "which": "half"}, "unknown group set 'half'"),
    ({"cmd": "standby", "timeout": 0}, "timeout"), ({"cmd": "standby", "timeout": -1}, "timeout"),
    ({"cmd": "standby", "timeout": "10"}, "timeout"), ({"cmd": "standby", "timeout": True}, "timeout"),
    ({"cmd": "standby", "timeout": math.nan}, "timeout"), ({"cmd": "standby", "timeout": math.inf}, "timeout"),
    ({"cmd": "outdate-peer"}, "resource"), ({"cmd": "outdate-peer", "resource": ""}, "resource"),
    ({"cmd": "outdate-peer", "resource": "r0", "timeout": 601}, "timeout"),
    ({"cmd": "fence-ack"}, "node"), ({"cmd": "fence-ack", "node": 7}, "node"),
    ({"cmd": "fence-ack", "node": "n2\n"}, "node"), ({"cmd": "cleanup", "group": "x" * 300}, "group"),
])
def test_malformed_requests_are_refused_with_the_reason(wire: Any, words: str) -> None:
    with pytest.raises(c.BadRequest, match=None) as err:
        c.decode(wire)
    assert words in str(err.value)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=3), max_leaves=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # shared machine
@given(st.dictionaries(st.sampled_from(["cmd", "which", "timeout", "resource", "group", "node", "x"]),
                       json_values | st.sampled_from(list(c.COMMANDS)), max_size=4))
def test_any_object_decodes_to_a_request_or_a_bad_request(obj: dict[str, Any]) -> None:
    try:
        typed = c.decode(obj)
    except c.BadRequest as exc:
        assert str(exc)
        return
    assert c.decode(json.loads(json.dumps(c.encode(typed)))) == typed  # what the CLI would send again


def test_reload_reply_round_trip_and_exit_codes() -> None:
    reply = c.ReloadReply(c.ReloadOutcome.REFUSED, "reload refused", ("group removed: x",))
    back = c.ReloadReply.from_wire(json.loads(json.dumps(reply.wire())))
    assert back == reply and not back.ok and back.outcome.exit_code == 1
    assert c.ReloadOutcome.UNUSABLE.exit_code == 6 and c.ReloadOutcome.APPLIED.exit_code == 0
    # an older daemon's answer has no outcome
    assert c.ReloadReply.from_wire({"ok": True, "text": "Configuration unchanged."}).outcome is c.ReloadOutcome.APPLIED
    assert c.ReloadReply.from_wire({"ok": False, "error": "bad request: x"}).text == "bad request: x"
