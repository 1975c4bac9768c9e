"""drbddisk against the lab's drbdadm emulator: promote, demote, and the refusals (peer Primary while
connected, local disk not UpToDate), plus Heartbeat's reason for retrying: a peer that demotes late."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hbd.lab import Lab
from hbd.lab import drbd_format as fmt
from hbd.lab.drbd_state import ResourceStore
from tests.lab.agent_helpers import AGENTS, agent

pytestmark = pytest.mark.lab


def role(lab: Lab, node: str) -> tuple[str, str]:
    return fmt.parse_pair(lab.exec(node, ["drbdadm", "role", "r0"]).stdout)


def test_promote_demote_and_status(lab: Lab) -> None:
    rc, results = agent(lab, "n1", "drbddisk", "r0", "status,start,start,status")
    assert [r["outcome"] for r in results] == ["stopped", "running", "running", "running"]
    assert rc == 0 and role(lab, "n1") == ("Primary", "Secondary")
    assert results[2]["actions"] == ["r0 is already Primary: nothing to do"]
    rc, results = agent(lab, "n1", "drbddisk", "r0", "stop,stop,status")
    assert [r["outcome"] for r in results] == ["stopped", "stopped", "stopped"]
    assert rc == 3 and role(lab, "n1") == ("Secondary", "Secondary")


def test_refused_while_the_peer_is_primary(lab: Lab) -> None:
    assert agent(lab, "n2", "drbddisk", "r0", "start")[0] == 0
    rc, (result,) = agent(lab, "n1", "drbddisk", "r0", "start")
    assert rc == 1 and result["outcome"] == "failed"
    assert result["reason"].startswith("could not promote r0: peer is Primary")
    assert "Multiple primaries not allowed by config" in result["reason"]
    tries = [a for a in result["actions"] if a.startswith("drbdadm primary r0")]
    assert len(tries) == 6 and tries[-1].startswith("drbdadm primary r0 (try 6/6)")
    assert 5.0 <= result["duration_s"] < 10.0  # 5 pauses of 1 s between the 6 tries
    assert role(lab, "n1") == ("Secondary", "Primary")


def test_a_peer_demoting_during_the_retries_lets_promotion_through(lab: Lab) -> None:
    assert agent(lab, "n2", "drbddisk", "r0", "start")[0] == 0
    proc = lab.spawn("n1", [*AGENTS, "drbddisk", "r0", "start"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     text=True)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # the agent reports each refused try before it pauses
        assert "drbdadm primary r0 refused (try 1/6)" in first, first
        assert agent(lab, "n2", "drbddisk", "r0", "stop")[0] == 0
        out, _ = proc.communicate(timeout=15)
    finally:
        proc.kill()
        proc.wait(timeout=5)
    assert proc.returncode == 0, out
    assert role(lab, "n1") == ("Primary", "Secondary")


def test_refuses_to_promote_a_disk_that_is_not_up_to_date(lab: Lab) -> None:
    lab.cut("n1", 1, how="filter")  # the replication link: an outdated node cut off from its peer
    with ResourceStore(lab.layout.drbd_dir, "r0").locked() as res:
        res.nodes["n1"].disk = "Outdated"
    assert lab.exec("n1", ["drbdadm", "dstate", "r0"]).stdout == "Outdated/DUnknown\n"
    rc, (result,) = agent(lab, "n1", "drbddisk", "r0", "start")
    assert rc == 1 and result["reason"].startswith("refusing to promote r0: local disk is Outdated, not UpToDate")
    assert not [a for a in result["actions"] if "drbdadm primary" in a]
    assert role(lab, "n1")[0] == "Secondary"


def test_resource_d_drbddisk_output(lab: Lab) -> None:
    exe = str(Path(__file__).resolve().parents[2] / "resource.d" / "drbddisk")
    out = lab.exec("n1", [AGENTS[0], exe, "r0", "status"], check=False)
    assert (out.returncode, out.stdout) == (3, "stopped (Secondary)\n")
    assert lab.exec("n1", [AGENTS[0], exe, "r0", "start"], check=False).returncode == 0
    out = lab.exec("n1", [AGENTS[0], exe, "r0", "status"], check=False)
    assert (out.returncode, out.stdout) == (0, "running (Primary)\n")
