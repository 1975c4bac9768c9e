"""The service side in the lab: `hbd stop` hands the group over and exits 0; etc/init.d/hbd passes a
start / status / reload / restart / stop cycle on a node (the daemon daemonizes, the script reports LSB codes)."""
from __future__ import annotations

import sys
from pathlib import Path

from daemon_lab import group_state, running_cluster

REPO = Path(__file__).resolve().parents[2]
INIT = str(REPO / "etc" / "init.d" / "hbd")
HBD = str(Path(sys.executable).parent / "hbd")


def test_hbd_stop_hands_over_then_init_script_cycle() -> None:
    with running_cluster() as (cluster, watcher, probe):
        proc = cluster.procs["n1"]
        done = cluster.cli("n1", ["hbd", "stop"], timeout=60)
        assert done.returncode == 0, (done.stdout, done.stderr)
        assert done.stdout.startswith("hbd stopped (pid ") and f"released {cluster.settings.group} to n2" in done.stdout
        assert proc.poll() == 0  # the daemon has exited (0: graceful) by the time hbd stop returns
        cluster.forget("n1")  # from here on n1's daemon is the init script's
        st2 = cluster.wait_owner("n2", timeout=10, ask="n2")
        assert group_state(st2, cluster.settings.group) == "running"
        assert probe.wait_for("n2", 5), probe.transitions
        assert "shutdown complete" in cluster.log("n1")

        env = {"HBD": HBD, "HBD_OPTS": "--node n1"}

        def init(action: str) -> tuple[int, str]:
            r = cluster.lab.exec("n1", [INIT, action], env=env, check=False, timeout=90)
            return r.returncode, r.stdout + r.stderr

        try:
            assert init("status")[0] == 3  # LSB: not running
            code, out = init("start")
            assert code == 0 and "hbd: started" in out, out
            assert init("start") == (0, "hbd: already running\n")
            cluster.wait_owner("n1", timeout=20, ask="n1")  # auto_failback on: n1 takes its group back
            assert probe.wait_for("n1", 5), probe.transitions
            code, out = init("status")
            assert code == 0 and out.startswith("hbd 0.1.0 on n1: running"), out
            code, out = init("reload")
            assert code == 0 and "Configuration unchanged." in out, out
            code, out = init("restart")
            assert code == 0 and "hbd stopped" in out and "hbd: started" in out, out
            cluster.wait_owner("n1", timeout=20, ask="n1")
            code, out = init("stop")
            assert code == 0 and f"released {cluster.settings.group} to n2" in out, out
            cluster.wait_owner("n2", timeout=10, ask="n2")
            assert init("status")[0] == 3
            code, out = init("stop")
            assert code == 0 and "hbd: not running" in out  # stopping a stopped service is not an error
            assert init("bogus")[0] == 2
            code, out = init("reload")
            assert code == 7 and "not running" in out  # LSB: program is not running
        finally:
            init("stop")
