"""rgmanager mode in the lab, real daemons on both nodes: seed 004's cluster.conf (its PostgreSQL service tree:
ip, drbd, fs, script) with lab values substituted runs as written. `database` starts on one node in exactly
the order `hbd test noop start service database` prints (from the daemon's log), `hbd status --json` shows
it started there, and after that node's power-off the other node starts it, in the same order. Once the
first node is back, `hbd svc relocate database -m n1` moves it back: exit 0, stopped on n2 in exactly
`hbd test noop stop`'s order, started on n1 in the start order again. `hbd stop` on n1 hands it over to n2
before the daemon leaves (n2 starts it while n1 is still a member, without waiting for n1's death and grace).

Substituted, and nothing else: node names (n1, n2, resolved through each node's own /etc/hosts, as cman
resolves them), the address (192.0.2.50/24, the lab's VIP), the DRBD resource (the lab's r0 on /dev/drbd0),
the file system type and mount point (the lab disk is ext4; /var/lib/hbd/pgsql is a per-node directory), the
init script (the lab's LSB service dbsvc), and <totem token="2000"/> so that a dead node is declared dead
after 2 s rather than cman's default 10 s. Heartbeats go by unicast to each peer (no <multicast>), signed
with the authkeys beside cluster.conf.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import jsonschema

from daemon_lab import lab_cluster
from monitor_lab import SERVICE, install_service
from rgmanager_lab import CONF_DIR, boot, reboots_asked, service, steps, wait_running_on, write_cluster_conf

from hbd.lab.hbd_cluster import HbdCluster

SEED = Path(__file__).resolve().parents[1] / "data" / "cluster" / "seed-004.conf"
SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "doc" / "status.schema.json").read_text())
MOUNT = "/var/lib/hbd/pgsql"
SUBSTITUTIONS = (
    ('name="node0"', 'name="n1"'), ('name="node1"', 'name="n2"'),
    ("10.80.4.200/22", "192.0.2.50/24"),
    ('resource="dbdev"', 'resource="r0"'),
    ('fstype="ext3"', 'fstype="ext4"'), ("/var/lib/pgsql/clusterdata", MOUNT),
    ("/etc/init.d/postgresql-cluster", f"/etc/init.d/{SERVICE}"),
    ('<cman two_node="1" expected_votes="1" />', '<cman two_node="1" expected_votes="1" />\n  <totem token="2000"/>'),
)


def lab_conf() -> str:
    text = SEED.read_text()
    for old, new in SUBSTITUTIONS:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def install(cluster: HbdCluster) -> None:
    install_service(cluster)
    write_cluster_conf(cluster, lab_conf())
    for node in cluster.lab.nodes:
        cluster.lab.path(node, "/var/lib/hbd").joinpath("pgsql").mkdir(exist_ok=True)


def noop_order(cluster: HbdCluster, op: str) -> list[str]:
    """`hbd test noop OP service database`'s resource lines (service containers run no agent)."""
    done = cluster.cli("n1", ["hbd", "test", "noop", op, "service", "database", "-c", f"{CONF_DIR}/cluster.conf"])
    assert done.returncode == 0, done.stderr
    lines = [line[len(f"[{op}] "):] for line in done.stdout.splitlines() if line.startswith(f"[{op}] ")]
    return [line for line in lines if not line.startswith("service:")]


def started_order(cluster: HbdCluster, node: str) -> list[str]:
    return steps(cluster, node, "start")


def test_seed_004_runs_unchanged_and_fails_over_after_a_power_off() -> None:
    with lab_cluster() as cluster:
        install(cluster)
        check = cluster.cli("n1", ["hbd", "config", "check", "-c", CONF_DIR])
        assert check.returncode == 0, check.stdout + check.stderr
        order = noop_order(cluster, "start")
        assert order == ["ip:192.0.2.50/24", "drbd:dbdev", "fs:dbfs", "script:postgresql"]
        for node in ("n1", "n2"):
            cluster.start(node, ["-c", CONF_DIR])
        st = wait_running_on(cluster, "n1", "n1", 30)  # the coordinator (lowest nodeid) places it on n1
        jsonschema.Draft202012Validator(SCHEMA).validate(st)  # the documented layout (doc/status-schema.md)
        row = service(st)
        assert row["local"] == "started" and st["quorum"]["quorate"] and st["quorum"]["members"] == ["n1", "n2"]
        assert {r["resource"] for r in row["resources"]} >= set(order)
        assert started_order(cluster, "n1") == order, cluster.stderr("n1")[-4000:]
        assert started_order(cluster, "n2") == []
        wait_running_on(cluster, "n2", "n1", 10)  # the peer sees the same table
        text = cluster.cli("n2", ["hbd", "status"])
        assert text.returncode == 0 and "database" in text.stdout and "n1" in text.stdout, text.stdout + text.stderr
        assert cluster.lab.exec("n1", ["/etc/init.d/" + SERVICE, "status"], check=False).returncode == 0
        assert cluster.lab.exec("n1", ["mountpoint", "-q", MOUNT], check=False).returncode == 0
        off = time.monotonic()
        cluster.power_off("n1")
        st = wait_running_on(cluster, "n2", "n2", 30)
        print(f"power-off of n1 -> database started on n2 after {time.monotonic() - off:.1f} s")
        assert started_order(cluster, "n2") == order, cluster.stderr("n2")[-4000:]
        assert service(st)["last_owner"] in ("n1", "n2")
        assert st["quorum"]["members"] == ["n2"] and st["quorum"]["quorate"]  # two_node: one vote is enough
        assert cluster.lab.exec("n2", ["/etc/init.d/" + SERVICE, "status"], check=False).returncode == 0
        boot(cluster, "n1")
        cluster.start("n1", ["-c", CONF_DIR])
        cluster.wait_status("n2", lambda st: st["quorum"]["members"] == ["n1", "n2"], 30)
        cluster.wait_status("n1", lambda st: st["phase"] == "running" and service(st)["owner"] == "n2", 30)
        n1_from, n2_from = len(cluster.stderr("n1")), len(cluster.stderr("n2"))
        moved = cluster.cli("n2", ["hbd", "svc", "relocate", "database", "-m", "n1"], timeout=60)
        assert moved.returncode == 0, moved.stdout + moved.stderr + cluster.stderr("n2")[n2_from:]
        assert "service:database is now running on n1" in moved.stdout, moved.stdout
        st = wait_running_on(cluster, "n1", "n1", 5)
        assert steps(cluster, "n2", "stop", n2_from) == noop_order(cluster, "stop") == list(reversed(order))
        assert steps(cluster, "n1", "start", n1_from) == order
        assert cluster.lab.exec("n1", ["/etc/init.d/" + SERVICE, "status"], check=False).returncode == 0
        assert cluster.lab.exec("n2", ["/etc/init.d/" + SERVICE, "status"], check=False).returncode == 3
        n2_from, asked = len(cluster.stderr("n2")), time.monotonic()
        stopped = cluster.cli("n1", ["hbd", "stop", "--timeout", "60"], timeout=90)  # hands it over first
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        wait_running_on(cluster, "n2", "n2", 15)
        print(f"hbd stop on n1 -> exit 0 and database running on n2 after {time.monotonic() - asked:.1f} s")
        after = cluster.stderr("n2")[n2_from:]
        assert after.index("Service database: stopped -> starting") < after.find("node n1: is dead") or \
            "node n1: is dead" not in after, after  # started while n1 was still a member: no grace waited
        assert reboots_asked(cluster) == {}
