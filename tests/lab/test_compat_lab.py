"""The migration shims against a running lab pair: cl_status reads the daemon in Heartbeat's words,
hb_standby / hb_takeover move the group and exit 0 only once it moved, clusvcadm -r relocates and checks,
clusvcadm -d is refused; `hbd status --json` of a daemon with a live peer validates against the schema."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema

from daemon_lab import running_cluster

REPO = Path(__file__).resolve().parents[2]


def shim(cluster, node: str, name: str, *argv: str, timeout: float = 60):  # type: ignore[no-untyped-def]
    """Run etc/compat/NAME (what the package installs in /usr/lib/hbd/compat) inside the node."""
    return cluster.cli(node, [sys.executable, str(REPO / "etc" / "compat" / name), *argv], timeout=timeout)


def out(done) -> str:  # type: ignore[no-untyped-def]
    assert done.returncode == 0, (done.args, done.stdout, done.stderr)
    return done.stdout.strip()


def test_shims_on_a_running_pair() -> None:
    with running_cluster() as (cluster, watcher, probe):
        group = cluster.settings.group
        st = cluster.status("n1")
        assert st is not None
        schema = json.loads((REPO / "doc" / "status.schema.json").read_text())
        jsonschema.Draft202012Validator(schema).validate(st)
        assert st["peer"]["alive"] and all(k["up"] for k in st["nodes"][1]["links"]), st["nodes"]

        assert out(shim(cluster, "n1", "cl_status", "hbstatus")) == "Heartbeat is running on this machine."
        assert out(shim(cluster, "n1", "cl_status", "listnodes")).split() == ["n1", "n2"]
        assert out(shim(cluster, "n1", "cl_status", "nodestatus", "n2")) == "active"
        links = out(shim(cluster, "n1", "cl_status", "listhblinks", "n2")).split()
        assert links == [k["name"] for k in st["nodes"][1]["links"]] and len(links) == 2
        assert out(shim(cluster, "n1", "cl_status", "hblinkstatus", "n2", links[0])) == "up"
        assert out(shim(cluster, "n1", "cl_status", "rscstatus")) == "local"
        assert out(shim(cluster, "n2", "cl_status", "rscstatus")) == "none"
        assert f"service:{group}" in out(shim(cluster, "n2", "clustat"))

        # hb_standby on the owner: the peer runs the group when it returns
        assert shim(cluster, "n1", "hb_standby").returncode == 0
        assert cluster.owner(cluster.status("n2") or {}) == "n2" and cluster.service_running("n2")
        assert probe.wait_for("n2", 5), probe.transitions
        assert out(shim(cluster, "n2", "cl_status", "rscstatus")) == "foreign"
        # hb_takeover on the preferred node takes it back
        assert shim(cluster, "n1", "hb_takeover").returncode == 0
        assert cluster.owner(cluster.status("n1") or {}) == "n1" and cluster.service_running("n1")
        assert probe.wait_for("n1", 5), probe.transitions

        # clusvcadm -r: relocated, checked, reported
        done = shim(cluster, "n1", "clusvcadm", "-r", group)
        assert f"service:{group} is now running on n2" in out(done)
        assert cluster.service_running("n2") and not cluster.service_running("n1")
        refused = shim(cluster, "n2", "clusvcadm", "-d", group)
        assert refused.returncode == 1 and "not supported" in refused.stderr, refused.stderr
        assert cluster.service_running("n2")
        cluster.wait_owner("n2", timeout=10, ask="n1")
        done = shim(cluster, "n1", "clusvcadm", "-r", group, "-m", "n1")
        assert f"service:{group} is now running on n1" in out(done)

        cluster.stop("n1")
        stopped = shim(cluster, "n1", "cl_status", "hbstatus")
        assert stopped.returncode == 3 and "Heartbeat is stopped on this machine." in stopped.stdout
        assert shim(cluster, "n1", "hb_standby").returncode == 3
