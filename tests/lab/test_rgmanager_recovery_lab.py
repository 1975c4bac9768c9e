"""Recovery policies of cluster.conf services in the lab, real daemons on both nodes, one cluster.conf, one lab.

Three services, each a real LSB service (an init script starting a small TCP daemon, its pid in /dev/shm), all
placed on n1 by an ordered domain n1 > n2, every script checked each second:
- `relo` (recovery="restart", max_restarts="1" within restart_expire_time="600"): kill -9 of its process
  restarts it in place on n1; the second kill is beyond max_restarts and relocates it to n2. n1's status
  shows the restarts, the failures and the last failure (resource, reason);
- `dis` (recovery="disable"): kill -9 of its process stops it and disables it, on no node started again;
  `hbd status --json` says why (`disabled_by: recovery`, doc/status.schema.json) and `hbd status` too;
- `sub`: two scripts, `leaf` with `__independent_subtree="1"`: kill -9 of leaf's process restarts leaf alone
  (its stop and start in n1's log, none of `base`'s, whose process lives on), the service stays started.
The first three kills happen at once (the policies are independent); majority quorum (no two_node), so
nothing starts before both nodes are members.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import jsonschema

from daemon_lab import lab_cluster
from monitor_lab import DAEMON, LSB_SCRIPT
from rgmanager_lab import CONF_DIR, reboots_asked, service, steps, wait_running_on, write_cluster_conf

from hbd.lab.hbd_cluster import HbdCluster

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "doc" / "status.schema.json").read_text())
SCRIPTS = {"relo": 5441, "dis": 5442, "base": 5443, "leaf": 5444}  # script name -> its daemon's port
CHECK = '<action name="status" depth="0" interval="1" timeout="5"/>'
CONF = f"""<?xml version="1.0"?>
<cluster name="recovery" config_version="1">
  <totem token="2000"/>
  <clusternodes>
    <clusternode name="n1" nodeid="1" votes="1"/>
    <clusternode name="n2" nodeid="2" votes="1"/>
  </clusternodes>
  <rm>
    <failoverdomains>
      <failoverdomain name="first" ordered="1">
        <failoverdomainnode name="n1" priority="1"/>
        <failoverdomainnode name="n2" priority="2"/>
      </failoverdomain>
    </failoverdomains>
    <service name="relo" domain="first" recovery="restart" max_restarts="1" restart_expire_time="600">
      <script name="relo" file="/etc/init.d/svcrelo">{CHECK}</script>
    </service>
    <service name="dis" domain="first" recovery="disable">
      <script name="dis" file="/etc/init.d/svcdis">{CHECK}</script>
    </service>
    <service name="sub" domain="first" recovery="relocate">
      <script name="base" file="/etc/init.d/svcbase">{CHECK}</script>
      <script name="leaf" file="/etc/init.d/svcleaf" __independent_subtree="1">{CHECK}</script>
    </service>
  </rm>
</cluster>
"""
SERVICES = ("relo", "dis", "sub")


def install_scripts(cluster: HbdCluster) -> None:
    """One LSB script per resource in each node's /etc/init.d (a bind mount in the node's own mount namespace),
    each with its own pid file and port: monitor_lab's service under another name."""
    for node in cluster.lab.nodes:
        ha_d = cluster.lab.path(node, "/etc/ha.d")
        (ha_d / "init.d").mkdir(exist_ok=True)
        for name, port in SCRIPTS.items():
            svc = f"svc{name}"
            script = ha_d / "init.d" / svc
            script.write_text(LSB_SCRIPT.replace("dbsvc", svc).replace("5432", str(port)))
            script.chmod(0o755)
            (ha_d / f"{svc}-daemon.py").write_text(DAEMON.replace("5432", str(port)))
        cluster.lab.exec(node, ["mount", "--bind", "/etc/ha.d/init.d", "/etc/init.d"])


def pid(cluster: HbdCluster, node: str, name: str) -> int | None:
    done = cluster.lab.exec(node, ["cat", f"/dev/shm/svc{name}.pid"], check=False)
    text = done.stdout.strip()
    return int(text) if done.returncode == 0 and text.isdigit() else None


def lsb_status(cluster: HbdCluster, node: str, name: str) -> int:
    return cluster.lab.exec(node, [f"/etc/init.d/svc{name}", "status"], check=False).returncode


def kill9(cluster: HbdCluster, node: str, name: str) -> int:
    found = pid(cluster, node, name)
    assert found is not None, f"svc{name} is not running on {node}"
    cluster.lab.exec(node, ["kill", "-9", str(found)])
    return found


def all_started_on_n1(st: dict) -> bool:
    return all(service(st, s)["owner"] == "n1" and service(st, s)["state"] == "started" for s in SERVICES)


def test_restart_then_relocate_disable_and_an_independent_subtree_with_real_daemons() -> None:
    with lab_cluster() as cluster:
        install_scripts(cluster)
        write_cluster_conf(cluster, CONF)
        check = cluster.cli("n1", ["hbd", "config", "check", "-c", CONF_DIR])
        assert check.returncode == 0, check.stdout + check.stderr
        for node in ("n1", "n2"):
            cluster.start(node, ["-c", CONF_DIR])
        cluster.wait_status("n1", lambda st: all_started_on_n1(st) and st["stable"], 40)
        cluster.wait_status("n2", all_started_on_n1, 10)
        assert all(lsb_status(cluster, "n1", name) == 0 for name in SCRIPTS)
        n1_from, n2_from = len(cluster.stderr("n1")), len(cluster.stderr("n2"))
        base = pid(cluster, "n1", "base")
        killed = {name: kill9(cluster, "n1", name) for name in ("relo", "dis", "leaf")}
        at = time.monotonic()

        def recovered(st: dict) -> bool:
            relo, dis, sub = (service(st, s) for s in SERVICES)
            return (relo["failures"] == 1 and relo["local"] == "started"
                    and pid(cluster, "n1", "relo") not in (None, killed["relo"])
                    and dis["state"] == "disabled" and dis["local"] == "disabled"
                    and sub["local"] == "started" and pid(cluster, "n1", "leaf") not in (None, killed["leaf"])
                    and "script:leaf" in steps(cluster, "n1", "start", n1_from))

        st = cluster.wait_status("n1", recovered, 1 + 5 + 20)  # interval + timeout + the restarts under load
        print(f"three kills: relo restarted, dis disabled, leaf restarted alone after {time.monotonic() - at:.1f} s")
        jsonschema.Draft202012Validator(SCHEMA).validate(st)
        relo, dis, sub = (service(st, s) for s in SERVICES)
        assert relo["restarts"] == 1 and relo["owner"] == "n1"
        assert relo["last_failure"]["resource"] == "script:relo" and relo["last_failure"]["reason"], relo
        assert dis["disabled_by"] == "recovery" and not dis["enabled"] and dis["owner"] is None, dis
        assert dis["failures"] == 1 and dis["last_failure"]["resource"] == "script:dis", dis
        assert sub["state"] == "started" and sub["owner"] == "n1", sub
        stopped, started = steps(cluster, "n1", "stop", n1_from), steps(cluster, "n1", "start", n1_from)
        assert sorted(stopped) == ["script:dis", "script:leaf", "script:relo"], stopped
        assert sorted(started) == ["script:leaf", "script:relo"], started  # base neither stopped nor started
        assert pid(cluster, "n1", "base") == base and lsb_status(cluster, "n1", "base") == 0
        assert "Restarting script:leaf of service sub alone" in cluster.stderr("n1")[n1_from:]
        text = cluster.cli("n1", ["hbd", "status"])
        assert "disabled by its recovery policy" in text.stdout, text.stdout + text.stderr

        second = kill9(cluster, "n1", "relo")  # beyond max_restarts="1": relocated
        at = time.monotonic()
        wait_running_on(cluster, "n2", "n2", 1 + 5 + 20, name="relo")
        print(f"second kill of relo: running on n2 after {time.monotonic() - at:.1f} s")
        st = cluster.wait_status("n1", lambda s: service(s, "relo")["owner"] == "n2", 10)
        relo = service(st, "relo")
        assert relo["failures"] == 2 and relo["local"] == "stopped", relo
        assert relo["last_failure"]["resource"] == "script:relo", relo
        assert pid(cluster, "n1", "relo") in (None, second) and lsb_status(cluster, "n1", "relo") != 0
        assert lsb_status(cluster, "n2", "relo") == 0
        assert steps(cluster, "n2", "start", n2_from) == ["script:relo"]  # dis: started on no node
        st = cluster.status("n2")
        assert st is not None and service(st, "dis")["state"] == "disabled"
        assert lsb_status(cluster, "n1", "dis") == 3 and lsb_status(cluster, "n2", "dis") == 3
        assert reboots_asked(cluster) == {}
