"""Lab helpers for the cluster.conf daemon: the configuration in each node's /etc/cluster, the nodes' names in
their own /etc/hosts, the services in `hbd status --json`, and the resource steps each daemon logged."""
from __future__ import annotations

import re

from hbd.lab.hbd_cluster import AUTHKEYS, HbdCluster
from hbd.lab.reboot_guard import REQUESTS_DIR, REQUESTS_FILE

CONF_DIR = "/etc/cluster"
STEP_LINE = re.compile(r"Running (\S+) (start|stop)$")


def write_cluster_conf(cluster: HbdCluster, text: str) -> None:
    """cluster.conf and its key on every node, and each node's /etc/hosts naming the lab's nodes (a self-fence's
    `reboot` is answered by the lab's guard, hbd/lab/reboot_guard.py)."""
    for node in cluster.lab.nodes:
        etc = cluster.lab.path(node, CONF_DIR)
        (etc / "cluster.conf").write_text(text)
        (etc / "authkeys").write_text(AUTHKEYS)
        (etc / "authkeys").chmod(0o600)
        mount_hosts(cluster, node)


def mount_hosts(cluster: HbdCluster, node: str) -> None:
    """The cluster's names in the node's own /etc/hosts (a bind mount inside its mount namespace only): cman
    resolves node names, /etc/hosts first."""
    lab = cluster.lab
    hosts = "".join(f"{lab.layout.address(n)} {n}\n" for n in lab.nodes)
    (lab.path(node, CONF_DIR) / "hosts").write_text(f"127.0.0.1 localhost\n{hosts}")
    lab.exec(node, ["mount", "--bind", f"{CONF_DIR}/hosts", "/etc/hosts"])


def boot(cluster: HbdCluster, node: str) -> None:
    """Power the node on again: its mount namespace is new, so its bind mounts are made again."""
    cluster.lab.boot(node)
    cluster.lab.exec(node, ["mount", "--bind", "/etc/ha.d/init.d", "/etc/init.d"])
    mount_hosts(cluster, node)


def steps(cluster: HbdCluster, node: str, op: str, since: int = 0) -> list[str]:
    """The resources the daemon on `node` ran `op` on, in order, from its log (from byte `since` on)."""
    return [m.group(1) for line in cluster.stderr(node)[since:].splitlines()
            if (m := STEP_LINE.search(line)) and m.group(2) == op]


def reboots_asked(cluster: HbdCluster) -> dict[str, str]:
    """The nodes whose daemon asked for a reboot (a self-fence), with what it ran."""
    out = {}
    for node in cluster.lab.nodes:
        path = cluster.lab.path(node, REQUESTS_DIR) / REQUESTS_FILE
        if path.exists():
            out[node] = path.read_text()
    return out


def service(st: dict, name: str = "database") -> dict:
    return next(s for s in st["services"] if s["name"] == name)


def wait_running_on(cluster: HbdCluster, ask: str, owner: str, timeout: float, name: str = "database") -> dict:
    return cluster.wait_status(ask, lambda st: service(st, name)["owner"] == owner
                               and service(st, name)["state"] == "started", timeout)
