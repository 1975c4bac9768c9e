"""`hbd convert --to pcs` run through Debian's real pcs against a scratch CIB builds what `--to cib` prints.

The script is run whole by bash. A `pcs` first on PATH stands in only for the two cluster commands that need a
running cluster: `pcs cluster cib FILE` (writes `cibadmin --empty` with the cluster's nodes, as the CIB of
a cluster set up and started as the script's header says) and `pcs cluster cib-push` (keeps the file);
every other command goes to the real pcs with `-f`. Agents not installed on this machine (lsb: scripts of the
converted cluster, ocf:linbit:drbd without drbd-utils) are created with --force, which only skips pcs's
metadata check; agents that are installed (resource-agents' IPaddr2 and Filesystem, fence-agents) are checked
by pcs against their metadata. The result must pass crm_verify and have the same resources, groups, clones,
constraints and monitors as the CIB: ids of constraints, nvpairs and ops may differ, so structure is compared.
Operations compared are the recurring ones (monitors); pcs also writes the agents' default start/stop/...
timeouts (interval 0) from their metadata, which the CIB leaves to Pacemaker's defaults.

In tests/pkg, not tests/unit: pcs takes about a second a command (~100 s in all), and `make test-debian-libs`
runs tests/unit a second time.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from hbd.cli import convert_cmd

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
EXAMPLES = REPO / "etc" / "examples"
CONFIGS = [DATA / "seed001", DATA / "cluster" / "seed-004.conf",
           *sorted(p for p in EXAMPLES.iterdir() if (p.is_dir() or p.suffix == ".conf") and p.name != "postgresql"),
           EXAMPLES / "postgresql" / "ha.d", EXAMPLES / "postgresql" / "cluster" / "cluster.conf"]
TOOLS = ("pcs", "cibadmin", "crm_resource", "crm_verify")
MISSING = [t for t in TOOLS if shutil.which(t, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"{', '.join(MISSING)} not installed "
                                "(pcs and pacemaker-cli-utils in tests/apt-packages)")

FENCED = """<?xml version="1.0"?>
<cluster name="fenced" config_version="1">
  <clusternodes>
    <clusternode name="a" nodeid="1"><fence><method name="1"><device name="ipmi-a"/></method></fence></clusternode>
    <clusternode name="b" nodeid="2"><fence><method name="1"><device name="ipmi-b"/></method></fence></clusternode>
  </clusternodes>
  <fencedevices>
    <fencedevice name="ipmi-a" agent="fence_ipmilan" ip="198.51.100.11" username="admin" password="pw" lanplus="1"/>
    <fencedevice name="ipmi-b" agent="fence_ipmilan" ip="198.51.100.12" username="admin" password="pw" lanplus="1"/>
  </fencedevices>
  <rm>
    <failoverdomains>
      <failoverdomain name="ab" ordered="1" restricted="1">
        <failoverdomainnode name="a" priority="1"/><failoverdomainnode name="b" priority="2"/>
      </failoverdomain>
    </failoverdomains>
    <service name="web" domain="ab" recovery="relocate"><ip address="192.0.2.80/24"/></service>
  </rm>
</cluster>
"""

# Stands in for the cluster-only commands, hands the rest to the real pcs; --force only for agents absent here.
FAKE_PCS = r'''#!{python}
import os, shutil, subprocess, sys
args = sys.argv[1:]
real = {real!r}
if args[:2] == ["cluster", "cib"]:
    empty = subprocess.run(["cibadmin", "--empty"], capture_output=True, text=True, check=True).stdout
    nodes = "".join(f'<node id="{{i}}" uname="{{n}}"/>' for i, n in enumerate(os.environ["NODES"].split(), 1))
    with open(args[2], "w") as f:
        f.write(empty.replace("<nodes/>", f"<nodes>{{nodes}}</nodes>"))
    sys.exit(0)
if args[:2] == ["cluster", "cib-push"]:
    open(os.environ["PUSHED"], "w").write(args[2])
    sys.exit(0)
if len(args) > 4 and args[0] == "-f" and args[2] == "resource" and args[3] == "create":
    meta = subprocess.run(["crm_resource", "--show-metadata", args[5]], capture_output=True)
    if meta.returncode != 0:
        args.append("--force")
os.execv(real, [real, *args])
'''


def convert(config: Path, to: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert convert_cmd.main(["--to", to, "-c", str(config)]) == 0
    return capsys.readouterr().out


def run_pcs_script(script: str, nodes: list[str], tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "pcs"
    real = shutil.which("pcs", path="/usr/sbin:/usr/bin:/sbin:/bin")
    fake.write_text(FAKE_PCS.format(python=sys.executable, real=real))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    env = {"PATH": f"{bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": str(tmp_path),
           "CIB": str(tmp_path / "import.xml"), "PUSHED": str(tmp_path / "pushed"), "NODES": " ".join(nodes)}
    done = subprocess.run(["bash", "-c", script, "hbd-import"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    return done, tmp_path / "import.xml"


def _role(name: str | None) -> str | None:
    """Pacemaker 1's role names as Pacemaker 2.1's; Started is what no role means."""
    return {"Master": "Promoted", "Slave": "Unpromoted", "Started": None}.get(name or "Started", name)


def _nvpairs(el: etree._Element, tag: str) -> dict[str, str]:
    return {nv.get("name"): nv.get("value") for sets in el.findall(tag) for nv in sets.iter("nvpair")}


def _seconds(text: str | None) -> int:
    value = (text or "0").strip()
    for suffix, factor in (("ms", 0.001), ("min", 60), ("s", 1), ("m", 60), ("h", 3600)):
        if value.endswith(suffix):
            return int(float(value[: -len(suffix)]) * factor)
    return int(value)


def _primitive(p: etree._Element) -> dict[str, object]:
    monitors = sorted((op.get("name"), _seconds(op.get("interval")), _seconds(op.get("timeout")),
                       _role(op.get("role"))) for op in p.iter("op") if _seconds(op.get("interval")) > 0)
    return {"agent": (p.get("class"), p.get("provider"), p.get("type")),
            "params": _nvpairs(p, "instance_attributes"), "meta": _nvpairs(p, "meta_attributes"),
            "recurring ops": monitors}


def node_names(cib_xml: str) -> list[str]:
    return [n.get("uname") for n in etree.fromstring(cib_xml.encode()).iter("node")]


def structure(cib_xml: str) -> dict[str, object]:
    """What a cluster does with the CIB, without the ids that name its parts."""
    conf = etree.fromstring(cib_xml.encode()).find("configuration")
    res, cons = conf.find("resources"), conf.find("constraints")
    props = _nvpairs(conf.find("crm_config"), "cluster_property_set")
    props.pop("cluster-name", None)  # set by `pcs cluster setup`, not by the script
    defaults = conf.find("rsc_defaults")
    return {
        "properties": props,
        "rsc_defaults": _nvpairs(defaults, "meta_attributes") if defaults is not None else {},
        "primitives": {p.get("id"): _primitive(p) for p in res.iter("primitive")},
        "groups": {g.get("id"): ([p.get("id") for p in g.findall("primitive")], _nvpairs(g, "meta_attributes"))
                   for g in res.iter("group")},
        "clones": {c.get("id"): ([x.get("id") for x in c if x.tag in ("primitive", "group")],
                                 _nvpairs(c, "meta_attributes")) for c in res.iter("clone", "master")},
        "locations": sorted((c.get("rsc"), c.get("node"), c.get("score")) for c in cons.iter("rsc_location")),
        "colocations": sorted((c.get("rsc"), _role(c.get("rsc-role")), c.get("with-rsc"), _role(c.get("with-rsc-role")),
                               c.get("score")) for c in cons.iter("rsc_colocation")),
        "orders": sorted((c.get("first"), c.get("first-action") or "start", c.get("then"),
                          c.get("then-action") or c.get("first-action") or "start", c.get("kind") or "Mandatory",
                          c.get("symmetrical") or "true") for c in cons.iter("rsc_order")),
        "fencing levels": sorted((lv.get("target"), lv.get("index"), lv.get("devices"))
                                 for lv in conf.iter("fencing-level")),
    }


@pytest.fixture
def fenced(tmp_path: Path) -> Path:
    conf = tmp_path / "fenced.conf"
    conf.write_text(FENCED)
    return conf


def check(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = convert(config, "pcs", capsys)
    cib_xml = convert(config, "cib", capsys)
    expected = structure(cib_xml)
    work = tmp_path / "run"
    work.mkdir()
    done, cib = run_pcs_script(script, node_names(cib_xml), work)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (work / "pushed").read_text() == str(cib), "the script did not push the CIB it built"
    # Without the nodes the stand-in wrote: offline (no status section) they are unclean, and with fencing on
    # crm_verify warns that they cannot be fenced, for hbd's own CIB as much as for pcs's.
    offline = work / "verify.xml"
    offline.write_text(re.sub(r"<nodes>.*?</nodes>", "<nodes/>", cib.read_text(), flags=re.S))
    verify = subprocess.run(["crm_verify", "-V", "-x", str(offline)], capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0 and "error" not in verify.stderr.lower(), verify.stderr
    got = structure(cib.read_text())
    for part in expected:
        assert got[part] == expected[part], part


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_pcs_builds_the_cib_convert_prints(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check(config, tmp_path, capsys)


def test_pcs_builds_the_cib_convert_prints_with_fencing(fenced: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    check(fenced, tmp_path, capsys)


def test_the_comparison_can_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A script whose monitor interval, colocation role or location differs is caught, each in its part."""
    script = convert(DATA / "seed001", "pcs", capsys)
    cib_xml = convert(DATA / "seed001", "cib", capsys)
    expected = structure(cib_xml)
    changes = (("interval=30s timeout=30s --group group-192.168.1.100\n# mon",
                "interval=31s timeout=30s --group group-192.168.1.100\n# mon", "primitives"),
               ("with Promoted drbd-r0-clone", "with drbd-r0-clone", "colocations"),
               ("prefers l0=100", "prefers l1=100", "locations"))
    for old, new, _ in changes:
        assert old in script, old
        script = script.replace(old, new)
    done, cib = run_pcs_script(script, node_names(cib_xml), tmp_path)
    assert done.returncode == 0, done.stderr
    got = structure(cib.read_text())
    assert [part for part in expected if got[part] != expected[part]] == ["primitives", "locations", "colocations"]
