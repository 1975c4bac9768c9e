"""DRBD's state in `hbd status`: which resources, what drbdadm says, the text lines."""
from __future__ import annotations

import subprocess
from pathlib import Path

from hbd.config import load
from hbd.runtime.drbd_status import format_lines, query, resources_of
from heartbeat_files import write_dir


def fake_run(outputs: dict[str, tuple[int, str, str]]):  # type: ignore[no-untyped-def]
    def run(argv: list[str], **kw: object) -> subprocess.CompletedProcess:
        rc, out, err = outputs[argv[1]]
        return subprocess.CompletedProcess(argv, rc, out, err)
    return run


def test_the_groups_drbd_resources_once_each(tmp_path: Path) -> None:
    cfg = load(write_dir(tmp_path, haresources="n1 drbddisk::r0 drbddisk::r1\nn2 192.0.2.9 drbddisk::r0\n"), "n1")
    assert cfg.heartbeat is not None and resources_of(cfg.heartbeat) == ("r0", "r1")


def test_query_reads_role_disk_and_connection() -> None:
    run = fake_run({"role": (0, "Secondary/Unknown\n", ""), "dstate": (0, "Outdated/DUnknown\n", ""),
                    "cstate": (0, "WFConnection\n", "")})
    entry = query("r0", run)
    assert entry == {"resource": "r0", "role": "Secondary", "peer_role": "Unknown", "disk": "Outdated",
                     "peer_disk": "DUnknown", "connection": "WFConnection", "split_brain": False}
    assert format_lines([entry]) == [
        "drbd:", "  r0           role Secondary/Unknown    disk Outdated/DUnknown      connection WFConnection"]


def test_query_reports_what_drbdadm_refused() -> None:
    run = fake_run({"role": (10, "", "0: Failure: (127) Device minor not allocated\n"),
                    "dstate": (10, "", "0: Failure: (127) Device minor not allocated\n"),
                    "cstate": (0, "Unconfigured\n", "")})
    entry = query("r0", run)
    assert entry["error"] == "0: Failure: (127) Device minor not allocated" and entry["connection"] == "Unconfigured"
    assert query("all")["error"].startswith("drbddisk: 'all' is not a DRBD resource name")
    assert format_lines([]) == []
