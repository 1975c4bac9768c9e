"""/metrics in a lab failover: the heartbeat interval histogram grows while both nodes run, and after n1's
power-off the survivor's failover counter, node and group gauges and group-operation histogram move."""
from __future__ import annotations

import re
import sys
import time

from daemon_lab import FAST, lab_cluster, watched

PORT = 9464
SCRAPE = ("import urllib.request,sys; "
          f"sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:{PORT}/metrics', timeout=5).read().decode())")


def scrape(cluster, node: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    text = cluster.lab.exec(node, [sys.executable, "-c", SCRAPE], timeout=15).stdout
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(\w+(?:\{[^}]*\})?) (\S+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def test_metrics_move_in_a_failover() -> None:
    with lab_cluster() as cluster:
        for node in ("n1", "n2"):
            cluster.start(node, ["--metrics", str(PORT)])
        cluster.wait_owner("n1", timeout=20)
        cluster.wait_owner("n1", timeout=10, ask="n2")
        with watched(cluster) as (watcher, probe):
            before = scrape(cluster, "n2")
            any_count = 'hbd_heartbeat_interval_seconds_count{link="any",node="n1"}'
            assert before['hbd_node_up{node="n1"}'] == 1.0
            assert before['hbd_failovers_total{cause="peer_dead"}'] == 0.0
            assert before['hbd_group_held{group="%s"}' % cluster.settings.group] == 0.0
            deadline = time.monotonic() + 10
            while scrape(cluster, "n2").get(any_count, 0) < before.get(any_count, 0) + 5:
                assert time.monotonic() < deadline, "the heartbeat histogram does not move"
                time.sleep(0.2)
            mid = scrape(cluster, "n2")
            # one heartbeat every 200 ms: nearly all gaps are within 1.5 x keepalive
            fast = mid['hbd_heartbeat_interval_seconds_bucket{le="0.3",link="any",node="n1"}']
            assert fast / mid[any_count] > 0.9, mid
            cluster.power_off("n1")
            st = cluster.wait_owner("n2", timeout=FAST.deadtime_ms / 1000 + 15)
            assert st is not None
            after = scrape(cluster, "n2")
            assert after['hbd_failovers_total{cause="peer_dead"}'] == 1.0, after
            assert after['hbd_node_up{node="n1"}'] == 0.0
            assert after['hbd_group_held{group="%s"}' % cluster.settings.group] == 1.0
            started = 'hbd_group_operation_seconds_count{group="%s",op="start"}' % cluster.settings.group
            assert after[started] >= 1.0
            assert after[any_count] >= mid[any_count]
            # the listener is on the loopback only
            listen = cluster.lab.exec("n2", ["ss", "-Hltn", f"sport = :{PORT}"]).stdout
            assert [line.split()[3] for line in listen.splitlines()] == [f"127.0.0.1:{PORT}"], listen
