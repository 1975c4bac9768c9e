"""The cluster.conf daemon's set-up and control requests, without running its loop: membership on this node
(names as addresses, the loopback's interface), where it logs, fence-ack, cleanup, and what it does not offer."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hbd.config import load
from hbd.errors import ConfigError
from hbd.core.service_table import AdminOp
from hbd.runtime import control_messages as cm
from hbd.runtime.cluster_daemon import ClusterDaemon, cluster_membership, fence_delay_s
from hbd.runtime.daemon import Options

CONF = """<?xml version="1.0"?>
<cluster name="c" config_version="1">
  <cman two_node="1" expected_votes="1"/>
  {extra}
  <clusternodes>
    <clusternode name="127.0.0.1" nodeid="1" votes="1"/>
    <clusternode name="192.0.2.99" nodeid="2" votes="1"/>
  </clusternodes>
  <rm><service name="db"><script name="s" file="/etc/init.d/hbd-no-such"/></service></rm>
</cluster>
"""


def daemon(tmp_path: Path, key: bool = True, extra: str = "", hacf: str | None = None,
           conf: str = CONF) -> ClusterDaemon:
    (tmp_path / "cluster.conf").write_text(conf.format(extra=extra))
    if key:
        (tmp_path / "authkeys").write_text("auth 1\n1 sha256 0123456789abcdef\n")
        (tmp_path / "authkeys").chmod(0o600)
    if hacf is not None:
        (tmp_path / "ha.cf").write_text(hacf)
    cfg = load(tmp_path)
    opts = Options(tmp_path, "127.0.0.1", tmp_path / "sock", tmp_path / "state")
    return ClusterDaemon(cfg, opts, cluster_membership(cfg, "127.0.0.1"))


def test_membership_is_unicast_to_the_peer_on_the_interface_of_this_nodes_address(tmp_path: Path) -> None:
    d = daemon(tmp_path)
    (medium,) = d.hacf.media
    assert (medium.kind, medium.interface, medium.address) == ("ucast", "lo", "192.0.2.99")
    assert d.hacf.timing.deadtime_ms == 10_000  # cman's default token
    assert fence_delay_s(d.conf) == 5.0  # two_node: the holder fences first


def test_without_a_key_the_daemon_refuses_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        daemon(tmp_path, key=False)
    assert any("no key file" in p.text for p in refused.value.errors)


def test_it_logs_where_an_ha_cf_beside_it_says(tmp_path: Path) -> None:
    hacf = "ucast lo 192.0.2.99\nnode 127.0.0.1 192.0.2.99\nlogfile /tmp/hbd-test.log\nlogfacility none\n"
    d = daemon(tmp_path, hacf=hacf)
    assert (d.hacf.logfile, d.hacf.logfacility) == ("/tmp/hbd-test.log", "none")


def test_post_fail_delay_sets_the_fence_delay(tmp_path: Path) -> None:
    assert fence_delay_s(daemon(tmp_path, extra='<fence_daemon post_fail_delay="3"/>').conf) == 3.0


def test_control_requests(tmp_path: Path) -> None:
    d = daemon(tmp_path)

    async def run() -> None:
        ack = await d._request(cm.FenceAckRequest("192.0.2.99"))
        assert not ack["ok"] and "has not left" in ack["text"]
        d.departed.add("192.0.2.99")
        ack = await d._request(cm.FenceAckRequest("192.0.2.99"))
        assert ack["ok"] and "acknowledged as down" in ack["text"]
        wrong = await d._request(cm.CleanupRequest("nosuch"))
        assert not wrong["ok"] and "no service 'nosuch'" in wrong["text"]
        done = await d._request(cm.CleanupRequest("db"))
        assert done["ok"] and done["cleared"] == ["db"]
        other = await d._request(cm.IntervalsRequest())
        assert not other["ok"] and "not available with cluster.conf" in other["text"]
        svc = await d._request(cm.ServiceAdminRequest(AdminOp.ENABLE, "db"))  # before it has joined
        assert cm.ServiceAdminReply.from_wire(svc).result.value == "unavailable"
    asyncio.run(run())


def test_fence_peer_with_two_nodes_asks_the_other_and_knows_when_it_is_dead(tmp_path: Path) -> None:
    d = daemon(tmp_path)

    async def run() -> None:
        d.outdate.start(asyncio.get_running_loop())
        d.alive = frozenset({"127.0.0.1"})  # the peer left the membership: it cannot write
        dead = await d._request(cm.OutdatePeerRequest("r0", 1.0))
        assert (dead["ok"], dead["code"]) == (True, 5) and "the peer is dead" in dead["text"]
        sent: list[tuple[tuple[str, str], ...]] = []
        d.outdate.send = sent.append
        d.alive = frozenset({"127.0.0.1", "192.0.2.99"})
        asked = asyncio.create_task(d._request(cm.OutdatePeerRequest("r0", 2.0)))
        for _ in range(100):  # bounded: the request goes out on the loop's next turns
            if sent:
                break
            await asyncio.sleep(0.01)
        (body,) = sent
        fields = dict(body)
        assert (fields["t"], fields["rsc"]) == ("hbd_outdate", "r0")
        d.outdate.received({"t": "hbd_outdate_rpl", "hbd_id": fields["hbd_id"], "result": "outdated"})
        reply = await asked
        assert (reply["ok"], reply["code"]) == (True, 4) and reply["text"] == "the peer answered: outdated"
    asyncio.run(run())
    d.outdate.close()


def test_fence_peer_with_three_nodes_says_the_peer_is_not_known_and_sends_nothing(tmp_path: Path) -> None:
    three = CONF.replace('<cman two_node="1" expected_votes="1"/>', '<cman expected_votes="3"/>').replace(
        '<clusternode name="192.0.2.99" nodeid="2" votes="1"/>',
        '<clusternode name="192.0.2.99" nodeid="2" votes="1"/>\n'
        '    <clusternode name="192.0.2.98" nodeid="3" votes="1"/>')
    d = daemon(tmp_path, conf=three)
    sent: list[object] = []
    d.outdate.send = sent.append

    async def run() -> None:
        d.outdate.start(asyncio.get_running_loop())
        reply = await d._request(cm.OutdatePeerRequest("r0", 1.0))
        assert (reply["ok"], reply["code"]) == (False, 1)
        assert "the cluster has 3 nodes, so which one is DRBD's peer is not known" in reply["text"]
    asyncio.run(run())
    d.outdate.close()
    assert sent == []
