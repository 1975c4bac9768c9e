"""Monitoring of a haresources group in the lab, real daemons on both nodes: an LSB service (an init script
starting a small TCP daemon) behind the VIP. kill -9 of its process -> the status check fails within its
interval + timeout and the group is restarted in place (the client gets answers from n1 again); the third
failure within the window hands the group to n2 by the standby exchange (the invariant watcher never sees
the VIP on both nodes). `hbd status --json` shows the fail count and the last failure; `hbd resource
cleanup` clears them, and refuses a group that does not exist without changing anything."""
from __future__ import annotations

import json

from daemon_lab import lab_cluster, watched
from monitor_lab import SERVICE, MonitoredSettings, answered_again, install_service, kill9, monitor_line

from hbd.lab.probes import VipProbe

SETTINGS = MonitoredSettings(keepalive_ms=200, deadtime_ms=1000, initdead_ms=2000)
INTERVAL_S, TIMEOUT_S = 2, 5


def monitor_of(st: dict, key: str) -> dict:
    return next(g["monitor"] for g in st["groups"] if g["key"] == key)


def test_kill_9_restarts_in_place_then_the_group_moves_to_the_peer() -> None:
    with lab_cluster(SETTINGS) as cluster:
        cluster.write_config(hacf_extra=monitor_line(INTERVAL_S, TIMEOUT_S, max_restarts=2))
        install_service(cluster)
        cluster.start("n1")
        cluster.start("n2")
        cluster.wait_owner("n1", timeout=20)
        cluster.wait_owner("n1", timeout=10, ask="n2")
        group = SETTINGS.group
        with watched(cluster) as (watcher, _):
            probe = VipProbe(cluster.lab, SETTINGS.vip, port=5432, interval=0.02).start()
            try:
                assert probe.wait_for("n1", 10), probe.transitions
                for attempt in (1, 2):
                    _, killed = kill9(cluster, "n1")
                    back = answered_again(probe, killed, "n1", timeout=INTERVAL_S + TIMEOUT_S + 15)
                    assert back is not None, (probe.transitions, [l for l in cluster.log("n1").splitlines() if "ERROR" in l or "CRIT" in l or "WARN" in l or "estart" in l][-30:])
                    print(f"kill -9 #{attempt}: answering again on n1 after {back:.2f} s")
                    st = cluster.wait_status("n1", lambda s: monitor_of(s, group)["failures"] == attempt, 5)
                    mon = monitor_of(st, group)
                    assert mon["restarts"] == attempt and mon["last_failure"]["resource"] == SERVICE
                    assert cluster.owner(st) == "n1"
                # each restart in place touched the failed service only: the address stayed up throughout
                restarts = cluster.log("n1")
                assert restarts.count(f"Restarting resource group {group} in place from {SERVICE}") == 2, restarts[-3000:]
                assert not [ln for ln in restarts.splitlines() if "Running IPaddr2" in ln and ln.endswith(" stop")]
                _, killed = kill9(cluster, "n1")
                moved = answered_again(probe, killed, "n2", timeout=INTERVAL_S + TIMEOUT_S + 30)
                assert moved is not None, (probe.transitions, cluster.log("n1")[-3000:])
                print(f"kill -9 #3: answering on n2 after {moved:.2f} s")
                st2 = cluster.wait_owner("n2", timeout=10, ask="n2")
                assert cluster.owner(st2) == "n2"
            finally:
                probe.stop()
        log1 = cluster.log("n1")
        assert f"Resource {SERVICE} of group {group} failed its status check" in log1
        assert f"CRIT: Giving up resource group {group}: 3 failed checks" in log1, log1[-3000:]
        # the counts stay until cleared; a group that does not exist is refused and changes nothing
        wrong = cluster.cli("n1", ["hbd", "resource", "cleanup", "no-such-group"])
        assert wrong.returncode == 1 and "no resource group" in wrong.stderr
        st = cluster.status("n1")
        assert st is not None and monitor_of(st, group)["failures"] == 3
        done = cluster.cli("n1", ["hbd", "resource", "cleanup", group])
        assert done.returncode == 0, done.stderr
        st = cluster.status("n1")
        assert st is not None and monitor_of(st, group)["failures"] == 0
        assert monitor_of(st, group)["last_failure"] is None
        shown = cluster.cli("n2", ["hbd", "status", "--json"])
        assert json.loads(shown.stdout)["groups"][0]["monitor"]["checks"][1]["resource"] == SERVICE
