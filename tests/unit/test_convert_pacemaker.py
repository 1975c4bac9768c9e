"""`hbd convert --to cib|pcs`: Pacemaker's own crm_verify accepts the CIB of seed 001, seed 004 and every shipped
example; the pcs output is a bash script that parses; the two describe the same resources."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from hbd.cli import convert_cmd
from hbd.config import load
from hbd.convert.build import convert
from hbd.convert.cib import to_cib

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
EXAMPLES = REPO / "etc" / "examples"
CONFIGS = [DATA / "seed001", DATA / "cluster" / "seed-004.conf",
           *sorted(p for p in EXAMPLES.iterdir() if (p.is_dir() or p.suffix == ".conf") and p.name != "postgresql"),
           EXAMPLES / "postgresql" / "ha.d", EXAMPLES / "postgresql" / "cluster" / "cluster.conf"]
needs_crm_verify = pytest.mark.skipif(shutil.which("crm_verify") is None,
                                      reason="crm_verify not installed (pacemaker-cli-utils in tests/apt-packages)")


def run_convert(config: Path, to: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert convert_cmd.main(["--to", to, "-c", str(config)]) == 0
    return capsys.readouterr().out


def crm_verify(cib: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "cib.xml"
    path.write_text(cib)
    return subprocess.run(["crm_verify", "-V", "-x", str(path)], capture_output=True, text=True, timeout=60)


@needs_crm_verify
@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_crm_verify_accepts_the_cib(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    done = crm_verify(run_convert(config, "cib", capsys), tmp_path)
    assert done.returncode == 0 and "error" not in done.stderr.lower(), done.stderr


@needs_crm_verify
def test_crm_verify_can_refuse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The check above can fail: a colocation with a resource that does not exist is refused."""
    cib = run_convert(DATA / "seed001", "cib", capsys)
    broken = re.sub(r'with-rsc="[^"]+"', 'with-rsc="no-such-resource"', cib, count=1)
    assert broken != cib
    assert crm_verify(broken, tmp_path).returncode != 0


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_pcs_script_parses_and_names_every_resource_of_the_cib(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = run_convert(config, "pcs", capsys)
    assert subprocess.run(["bash", "-n"], input=script, text=True, timeout=30).returncode == 0
    cib = etree.fromstring(run_convert(config, "cib", capsys))
    for prim in cib.iter("primitive"):
        agent = ":".join(x for x in (prim.get("class"), prim.get("provider"), prim.get("type")) if x)
        if prim.get("class") == "stonith":
            agent = prim.get("type")
        assert f"create {prim.get('id')} {agent} " in script, prim.get("id")
    for group in cib.iter("group"):
        assert all(f"--group {group.get('id')}" in script for _ in group.iter("primitive"))


def test_seed001_shape(capsys: pytest.CaptureFixture[str]) -> None:
    """haresources' drbddisk becomes a promotable clone; the group runs where it is promoted, after promotion."""
    model = convert(load(DATA / "seed001", "l0", need_authkeys=False))
    (group,) = model.groups
    assert [p.agent for p in group.members] == ["ocf:heartbeat:IPaddr2", "ocf:heartbeat:Filesystem", "lsb:mysqld-max",
                                                "lsb:linkserv", "lsb:mon"]
    ip = dict(group.members[0].params)
    assert ip == {"ip": "192.168.1.100", "cidr_netmask": "24", "nic": "eth1", "iflabel": "0"}
    (clone,) = model.clones
    assert clone.primitive.agent == "ocf:linbit:drbd" and dict(clone.primitive.params) == {"drbd_resource": "r0"}
    (col,) = model.colocations
    assert (col.rsc, col.with_rsc, col.with_role) == (group.id, clone.id, "Promoted")
    (order,) = model.orders
    assert (order.first, order.first_action, order.then, order.then_action) == (clone.id, "promote", group.id, "start")
    (loc,) = model.locations
    assert (loc.rsc, loc.node) == (group.id, "l0")
    assert ("resource-stickiness", "0") in model.rsc_defaults  # auto_failback on: groups go home


def test_seed004_shape() -> None:
    """cluster.conf: the nested services flatten into one group in rgmanager's start order; monitors from the
    agents' status intervals."""
    model = convert(load(DATA / "cluster" / "seed-004.conf"))
    (group,) = model.groups
    assert group.id == "database"
    assert [p.agent for p in group.members] == ["ocf:heartbeat:IPaddr2", "ocf:heartbeat:Filesystem",
                                                "lsb:postgresql-cluster"]
    assert [(o.name, o.interval_s) for o in group.members[0].ops] == [("monitor", 20)]  # ip: status every 20 s
    assert ("migration-threshold", "1") in group.meta  # recovery="relocate"
    assert [c.primitive.params for c in model.clones] == [(("drbd_resource", "dbdev"),)]


def test_failover_domain_to_location_constraints(tmp_path: Path) -> None:
    conf = tmp_path / "cluster.conf"
    conf.write_text("""<?xml version="1.0"?>
<cluster name="c" config_version="1">
  <clusternodes>
    <clusternode name="a" nodeid="1"/><clusternode name="b" nodeid="2"/><clusternode name="c" nodeid="3"/>
  </clusternodes>
  <rm>
    <failoverdomains>
      <failoverdomain name="ab" ordered="1" restricted="1" nofailback="1">
        <failoverdomainnode name="a" priority="1"/><failoverdomainnode name="b" priority="2"/>
      </failoverdomain>
    </failoverdomains>
    <service name="web" domain="ab"><ip address="192.0.2.80/24"/></service>
  </rm>
</cluster>
""")
    model = convert(load(conf))
    scores = {(loc.rsc, loc.node): loc.score for loc in model.locations}
    assert scores == {("web", "a"): "990", ("web", "b"): "980", ("web", "c"): "-INFINITY"}
    assert ("resource-stickiness", "200") in model.groups[0].meta


def test_a_resource_without_equivalent_is_refused_and_nothing_printed(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "ha.d"
    d.mkdir()
    (d / "ha.cf").write_text("keepalive 1\ndeadtime 10\nbcast eth0\nnode n1 n2\n")
    (d / "haresources").write_text("n1 IPaddr2::192.0.2.10/24 myscript::arg1\n")
    assert convert_cmd.main(["--to", "cib", "-c", str(d)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "myscript::arg1: a resource.d script with arguments" in err
