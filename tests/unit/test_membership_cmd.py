"""`hbd membership`: config errors exit 1 with file:line, and the status table shows nodes and links."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from hbd.cli import membership_cmd
from hbd.core.membership_events import LinkView, MembershipView, NodeView

VIEW = MembershipView("alice", "active", True, (
    NodeView("alice", "active", 2000, 0.1, 9, (LinkView("eth0", True, 0.1),), ()),
    NodeView("bob", "dead", 3000, 4.25, 7, (LinkView("eth0", False, 4.25), LinkView("eth1", False, None)),
             ((200, 3), (500, 0))),
))


def test_table_lists_nodes_status_links_and_ages() -> None:
    text = membership_cmd.format_view(VIEW)
    assert text.splitlines() == [
        "local node alice: active",
        "node alice: active, last packet 0.1 s ago, deadtime 2000 ms",
        "  link eth0: up, last packet 0.1 s ago",
        "node bob: dead, last packet 4.2 s ago, deadtime 3000 ms",
        "  link eth0: dead, last packet 4.2 s ago",
        "  link eth1: dead, last packet -",
    ]


def test_json_form_keeps_histogram_buckets_with_counts() -> None:
    record = json.loads(membership_cmd.format_view(VIEW, as_json=True))
    bob = record["nodes"][1]
    assert bob["status"] == "dead" and bob["intervals"] == [[200, 3]]
    assert [link["up"] for link in bob["links"]] == [False, False]


def test_bad_config_exits_1_naming_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ha.cf").write_text("node alice bob\nkeepalive 1\ndeadtime 1\nbcast eth0\n")
    (tmp_path / "authkeys").write_text("auth 1\n1 sha1 key\n")
    (tmp_path / "authkeys").chmod(0o600)
    rc = membership_cmd.main(["-c", str(tmp_path), "--node", "alice", "--state-dir", str(tmp_path / "state")])
    assert rc == 1
    assert f"{tmp_path}/ha.cf:3" in capsys.readouterr().err
    assert not (tmp_path / "state").exists()  # nothing was touched
