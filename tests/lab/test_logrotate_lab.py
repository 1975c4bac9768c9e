"""Log rotation end to end: Debian's logrotate with the shipped etc/logrotate.d/hbd, run on a lab node whose daemon
logs to /var/log/hbd/hbd.log (the path the shipped examples use), rotates the file, the postrotate SIGHUP reaches
the daemon through its pid file, and the daemon's next lines land in the new file, none in the rotated one."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from daemon_lab import running_cluster

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "etc" / "logrotate.d" / "hbd"
HUP_LINE = "Configuration unchanged."  # what the daemon logs for SIGHUP with unchanged files (after reopening)

pytestmark = pytest.mark.skipif(shutil.which("logrotate", path="/usr/sbin:/usr/bin:/sbin:/bin") is None,
                                reason="logrotate not installed (in tests/apt-packages)")


def wait_until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.1)


def test_logrotate_rotates_and_the_daemon_writes_to_the_new_file() -> None:
    conf_text = SHIPPED.read_text()
    assert "/var/log/hbd/*.log /var/log/hbd/*.debug {" in conf_text and "/run/hbd/hbd.pid" in conf_text  # the lab's paths
    with running_cluster() as (cluster, _watcher, _probe):
        logs = cluster.lab.path("n1", "/var/log/hbd")
        before = (logs / "hbd.log").read_text()
        assert before and HUP_LINE not in before  # nothing has reloaded the daemon yet
        etc = cluster.lab.path("n1", "/etc/ha.d")
        conf = etc / "logrotate-hbd"
        conf.write_text(conf_text)
        os.chmod(conf, 0o644)  # logrotate refuses a configuration others can write

        done = cluster.lab.exec("n1", ["logrotate", "-v", "-f", "-s", "/etc/ha.d/logrotate.state",
                                       "/etc/ha.d/logrotate-hbd"], check=False, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr

        rotated = logs / "hbd.log.1"  # delaycompress: the first rotation stays uncompressed
        assert rotated.read_text().startswith(before), "the rotated file is not the old log"
        assert (logs / "hbd.debug.1").exists(), "the debug file was not rotated"
        assert (logs / "hbd.log").stat().st_mode & 0o777 == 0o640  # create 0640 root adm
        # The postrotate's SIGHUP: the daemon reopens its files, then logs the reload in the new one.
        wait_until(lambda: HUP_LINE in (logs / "hbd.log").read_text(), 10, "the SIGHUP line in the new hbd.log")
        done = cluster.cli("n1", ["hbd", "reload"], timeout=30)
        assert done.returncode == 0, done.stdout + done.stderr
        wait_until(lambda: (logs / "hbd.log").read_text().count(HUP_LINE) >= 2, 10, "the reload line in hbd.log")
        old = rotated.read_text()
        assert HUP_LINE not in old, "the daemon wrote to the rotated file"
        size = len(old)
        cluster.stop("n2")  # n1 logs n2's departure
        wait_until(lambda: "n2" in (logs / "hbd.log").read_text().split(HUP_LINE)[-1], 15,
                   "a line about n2 leaving in the new hbd.log")
        assert len(rotated.read_text()) == size, "lines landed in the rotated file"
