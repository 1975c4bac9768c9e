"""A flood of bad-HMAC and garbage datagrams at the heartbeat port causes no false death.

Two hbd daemons (keepalive 100 ms, deadtime 500 ms, a VIP group on n1); from the lab's client (on the
eth0 bridge, an address of the medium's network, no cluster node) a flooder sends forged status messages
in n1's and n2's names signed with a wrong key, truncated ones and random bytes, to n1 and to eth0's
broadcast address, for FLOOD_S seconds, running SCHED_FIFO above the daemons (flood_lab.py says why). On
two media only eth0 is flooded; on one medium the flood shares the only medium with the heartbeats. Neither
node may declare the other dead or lose its own heartbeat, the group stays on n1, and n1 must have seen
the flood (its kernel filter in flood mode, drops counted). The rate reached is printed; bench/flood.py
measures it against Heartbeat 3.0.6 (doc/threat-model.md, "floods").
"""
from __future__ import annotations

import time

import pytest

from flood_lab import false_deaths, flood
from hbd.lab.hbd_cluster import ClusterSettings, HbdCluster

FLOOD_S = 10.0


def warnings(log: str, node: str) -> str:
    """What a reader of a failure needs from a node's log: its warnings and worse, not its info lines."""
    lines = [line for line in log.splitlines() if ": info:" not in line and ": debug:" not in line]
    return f"--- {node}: {len(lines)} warning lines\n" + "\n".join(lines[-40:])
SETTINGS = ClusterSettings(keepalive_ms=100, deadtime_ms=500, initdead_ms=2000)


@pytest.mark.parametrize("media", [2, 1], ids=["one-of-two-media", "only-medium"])
def test_flood_on_the_heartbeat_port_causes_no_false_death(new_lab, media: int) -> None:
    lab = new_lab(nodes=2, media=media)
    cluster = HbdCluster(lab, SETTINGS)
    try:
        cluster.write_config()
        if media == 1:
            for node in lab.nodes:
                hacf = lab.path(node, "/etc/ha.d") / "ha.cf"
                hacf.write_text(hacf.read_text().replace("bcast eth0 eth1", "bcast eth0"))
        cluster.start("n1")
        cluster.start("n2")
        cluster.wait_owner("n1", timeout=20)
        cluster.wait_owner("n1", timeout=10, ask="n2")
        cluster.wait_configured_deadtime("n2", "n1")
        cluster.wait_configured_deadtime("n1", "n2")
        offsets = {n: len(cluster.log(n)) for n in lab.nodes}
        result = flood(lab, FLOOD_S)
        time.sleep(1.0)  # twice the deadtime: a death the flood caused shows by now
        print(f"flood on {media} medium(s): {result.rate:.0f} datagrams/s sent; per node taken by the kernel "
              f"after the filter {result.received}, queue drops {result.queue_drops}")
        for node in lab.nodes:
            assert cluster.running(node), f"hbd on {node} exited\n{cluster.stderr(node)[-3000:]}"
            deaths = false_deaths(cluster.log(node)[offsets[node]:])
            assert deaths == [], (f"{node}: false deaths under {result.rate:.0f} datagrams/s: {deaths}\n"
                                  + "\n".join(warnings(cluster.log(n)[offsets[n]:], n) for n in lab.nodes)
                                  + "".join(f"\n--- {n}: {(cluster.status(n) or {}).get('heartbeat')}" for n in lab.nodes))
        st = cluster.wait_owner("n1", timeout=5)
        # the flood was real and met the daemon: the budget ran out, flood mode went on, drops were counted
        assert result.sent > 50_000, result
        assert "flood on eth0" in cluster.log("n1"), cluster.log("n1")[-3000:]
        rejected = st["heartbeat"]["rejected"]
        assert rejected.get("unchecked", 0) + rejected.get("bad_auth", 0) > 2_000, rejected
        assert all(n["status"] == "active" for n in st["nodes"]), st["nodes"]
    finally:
        cluster.close()
