"""Alert scripts: one run at a time in event order, the documented variables, a timeout, failures logged;
the example mail and UDP scripts."""
from __future__ import annotations

import logging
import os
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from hbd.core import membership_events as m
from hbd.core import ownership_types as o
from hbd.runtime.alerts import AlertRunner, settings_of
from heartbeat_files import HACF, hacf_of

EXAMPLES = Path(__file__).resolve().parents[2] / "etc" / "alerts"
RECORDER = """#!/bin/sh
sleep "${{DELAY:-0}}"
echo "{name} $HBD_ALERT_SEQUENCE $HBD_ALERT_KIND $HBD_ALERT_EVENT node=$HBD_ALERT_NODE group=$HBD_ALERT_GROUP \
local=$HBD_ALERT_LOCAL_NODE crm=$CRM_alert_kind/$CRM_alert_task/$CRM_alert_rsc rc=$CRM_alert_rc desc=$HBD_ALERT_DESC" >> {log}
[ "$HBD_ALERT_EVENT" = "{fail_on}" ] && exit 3
[ "$HBD_ALERT_EVENT" = "{hang_on}" ] && exec sleep 30
exit 0
"""


def script(tmp_path: Path, name: str, fail_on: str = "-", hang_on: str = "-") -> Path:
    path = tmp_path / name
    path.write_text(RECORDER.format(name=name, log=tmp_path / "alerts.log", fail_on=fail_on, hang_on=hang_on))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def lines(tmp_path: Path) -> list[str]:
    path = tmp_path / "alerts.log"
    return path.read_text().splitlines() if path.exists() else []


def test_every_script_runs_for_every_event_in_order_with_the_variables(tmp_path: Path) -> None:
    runner = AlertRunner([str(script(tmp_path, "a")), str(script(tmp_path, "b"))], 10, "n2", "n1")
    runner.membership(m.NodeChanged("n1", "dead"))
    runner.ownership(o.Fenced("n1", True))
    runner.ownership(o.StartGroup("ip1", "n1 is dead", o.Cause.PEER_DEAD))
    runner.ownership(o.GroupStarted("ip1", True))
    runner.ownership(o.Send({"t": "resource"}))  # not an alert
    runner.drain(30)
    assert lines(tmp_path) == [
        "a 1 node dead node=n1 group= local=n2 crm=node/dead/ rc=0 desc=n1 is dead",
        "b 1 node dead node=n1 group= local=n2 crm=node/dead/ rc=0 desc=n1 is dead",
        "a 2 fencing fenced node=n1 group= local=n2 crm=fencing/fenced/ rc=0 desc=",
        "b 2 fencing fenced node=n1 group= local=n2 crm=fencing/fenced/ rc=0 desc=",
        "a 3 resource start node=n2 group=ip1 local=n2 crm=resource/start/ip1 rc=0 desc=n1 is dead",
        "b 3 resource start node=n2 group=ip1 local=n2 crm=resource/start/ip1 rc=0 desc=n1 is dead",
        "a 4 resource started node=n2 group=ip1 local=n2 crm=resource/started/ip1 rc=0 desc=",
        "b 4 resource started node=n2 group=ip1 local=n2 crm=resource/started/ip1 rc=0 desc=",
    ]


def test_runs_never_overlap_even_when_events_come_faster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELAY", "0.2")
    runner = AlertRunner([str(script(tmp_path, "a"))], 10, "n2", "n1")
    for status in ("dead", "active", "dead"):
        runner.membership(m.NodeChanged("n1", status))  # type: ignore[arg-type]
    runner.membership(m.NodeChanged("n9", "dead"))  # not the peer: no alert
    runner.drain(30)
    assert [ln.split()[1:4] for ln in lines(tmp_path)] == [["1", "node", "dead"], ["2", "node", "up"],
                                                           ["3", "node", "dead"]]


def test_failure_recovery_split_brain_and_stop_failures(tmp_path: Path) -> None:
    runner = AlertRunner([str(script(tmp_path, "a"))], 10, "n2", "n1")
    runner.ownership(o.GroupStarted("ip1", False, "IPaddr2 start failed"))
    runner.ownership(o.GroupStarted("ip1", True))
    runner.ownership(o.GroupStopped("ip1", False, "hbdsvc stop failed"))
    runner.ownership(o.StopFailedForGood("ip1"))
    runner.ownership(o.Fenced("n1", False))
    runner.membership(m.PeerReturned("n1"))
    runner.drain(30)
    assert [ln.split()[2:4] + [ln.split(" rc=")[1][0]] for ln in lines(tmp_path)] == [
        ["resource", "start_failed", "1"], ["resource", "recovered", "0"], ["resource", "stop_failed", "1"],
        ["resource", "stop_failed_for_good", "1"], ["fencing", "fence_failed", "1"], ["split_brain", "returned", "0"]]


def test_a_hanging_or_failing_script_is_logged_and_the_next_one_still_runs(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="hbd.alerts")
    slow = script(tmp_path, "a", fail_on="up", hang_on="dead")
    runner = AlertRunner([str(slow), str(tmp_path / "missing")], 0.5, "n2", "n1")
    begun = time.monotonic()
    runner.membership(m.NodeChanged("n1", "dead"))
    runner.membership(m.NodeChanged("n1", "active"))
    runner.drain(30)
    assert time.monotonic() - begun < 10  # the 30 s sleep was killed at the 0.5 s timeout
    assert [ln.split()[3] for ln in lines(tmp_path)] == ["dead", "up"]
    texts = [r.getMessage() for r in caplog.records]
    assert any("(node dead): still running after 0.5 s: killed" in t for t in texts)
    assert any("(node up): exit 3" in t for t in texts)
    assert sum("missing (node" in t and "cannot run" in t for t in texts) == 2


def test_no_scripts_no_runs(tmp_path: Path) -> None:
    runner = AlertRunner([], 1, "n2", "n1")
    runner.membership(m.NodeChanged("n1", "dead"))
    assert runner.sequence == 0
    runner.drain(5)


def test_settings_from_hacf(tmp_path: Path) -> None:
    hacf, problems = hacf_of(tmp_path, HACF + "alert /usr/local/bin/a\nalert /usr/local/bin/b\nalert_timeout 5\n")
    assert hacf is not None, [str(p) for p in problems]
    assert settings_of(hacf) == (("/usr/local/bin/a", "/usr/local/bin/b"), 5.0)
    bare, _ = hacf_of(tmp_path, HACF)
    assert bare is not None and settings_of(bare) == ((), 30.0)


# --- the examples ----------------------------------------------------------------------------------

def alert_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, HBD_ALERT_KIND="resource", HBD_ALERT_EVENT="started", HBD_ALERT_NODE="n2",
               HBD_ALERT_GROUP="ip1", HBD_ALERT_LOCAL_NODE="n2", HBD_ALERT_SEQUENCE="7",
               HBD_ALERT_DESC="", HBD_ALERT_TIMESTAMP="2026-01-01T00:00:00Z")
    env.update(extra)
    return env


def test_udp_example_sends_one_notice() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(10)
        port = sock.getsockname()[1]
        done = subprocess.run([str(EXAMPLES / "alert-udp")], timeout=30, check=False,
                              env=alert_env(ALERT_UDP_ADDRESS="127.0.0.1", ALERT_UDP_PORT=str(port)))
        assert done.returncode == 0
        assert sock.recv(1024) == b"hbd resource started node=n2 group=ip1 from=n2 seq=7"
        skipped = subprocess.run([str(EXAMPLES / "alert-udp")], timeout=30, check=False,
                                 env=alert_env(HBD_ALERT_EVENT="start", ALERT_UDP_ADDRESS="127.0.0.1",
                                               ALERT_UDP_PORT=str(port)))
        assert skipped.returncode == 0
        sock.settimeout(0.3)
        with pytest.raises(socket.timeout):
            sock.recv(1024)  # a start begun is not sent unless ALERT_UDP_ALL=1


def test_mail_example_uses_mail(tmp_path: Path) -> None:
    fake = tmp_path / "mail"
    fake.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\ncat > {tmp_path}/body\n')
    fake.chmod(0o755)
    done = subprocess.run([str(EXAMPLES / "alert-mail")], timeout=30, check=False,
                          env=alert_env(PATH=f"{tmp_path}:/usr/bin:/bin", ALERT_MAIL_TO="ops@example.org"))
    assert done.returncode == 0
    assert (tmp_path / "args").read_text() == "-s hbd on n2: resource started n2 ip1 ops@example.org\n"
    assert "event:      resource started" in (tmp_path / "body").read_text()
