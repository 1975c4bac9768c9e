"""`hbd test test start|status|stop service database` in a lab node: a cluster.conf service with ip, drbd,
fs and script runs for real through hbd's agents, in plan order, and stops in reverse."""
from __future__ import annotations

import re
import subprocess

import pytest

from hbd.lab import Lab
from hbd.lab import drbd_format as fmt
from tests.lab.agent_helpers import has_address

pytestmark = pytest.mark.lab

VIP = "192.0.2.50"
CLUSTER_CONF = """<?xml version="1.0"?>
<cluster name="lab" config_version="1">
  <clusternodes>
    <clusternode name="n1" nodeid="1"/>
    <clusternode name="n2" nodeid="2"/>
  </clusternodes>
  <rm>
    <service name="database" autostart="1">
      <ip address="{vip}/24" monitor_link="1" sleeptime="0"/>
      <drbd name="dbdev" resource="r0">
        <fs name="dbfs" device="/dev/drbd0" mountpoint="/srv/db" fstype="ext4" force_unmount="1"/>
      </drbd>
      <script name="dbscript" file="/etc/cluster/dbscript"/>
    </service>
  </rm>
</cluster>
"""
SCRIPT = """#!/bin/sh
# An LSB service standing in for the database: its state is a file.
STATE=/run/hbd/dbscript.running
case "$1" in
  start) echo "dbscript starting"; touch $STATE;;
  stop) rm -f $STATE;;
  status) [ -e $STATE ] && exit 0; exit 3;;
esac
"""
START_ORDER = ["service:database", "ip:192.0.2.50/24", "script:dbscript", "drbd:dbdev", "fs:dbfs"]


def hbd_test(lab: Lab, op: str) -> subprocess.CompletedProcess:
    return lab.exec("n1", ["hbd", "test", "test", op, "service", "database", "--force"], check=False, timeout=120)


def steps(out: str) -> list[str]:
    return [line.split(" ", 1)[1] for line in out.splitlines() if re.match(r"^\[(start|stop|status)\] ", line)]


def mounted(lab: Lab) -> bool:
    return " /srv/db " in lab.exec("n1", ["cat", "/proc/self/mountinfo"]).stdout


def test_service_starts_in_order_and_stops_in_reverse(lab: Lab) -> None:
    etc = lab.path("n1", "/etc/cluster")
    (etc / "cluster.conf").write_text(CLUSTER_CONF.format(vip=VIP))
    (etc / "dbscript").write_text(SCRIPT)
    (etc / "dbscript").chmod(0o755)
    try:
        start = hbd_test(lab, "start")
        assert start.returncode == 0, start.stdout + start.stderr
        out = start.stdout.splitlines()
        assert out[0] == "Starting database..." and out[-1] == "Start of database complete"
        assert steps(start.stdout) == START_ORDER
        assert "<info>   dbscript starting" in out
        assert any(line.startswith(f"<info>   Adding inet address {VIP}/24") for line in out)
        assert has_address(lab, "n1", VIP)
        assert fmt.parse_pair(lab.exec("n1", ["drbdadm", "role", "r0"]).stdout)[0] == "Primary"
        assert mounted(lab)

        status = hbd_test(lab, "status")
        assert status.returncode == 0 and status.stdout.splitlines()[-1] == "Status of database is good", status.stdout

        stop = hbd_test(lab, "stop")
        assert stop.returncode == 0, stop.stdout + stop.stderr
        assert steps(stop.stdout) == START_ORDER[::-1]
        assert stop.stdout.splitlines()[-1] == "Stop of database complete"
        assert not has_address(lab, "n1", VIP) and not mounted(lab)
        assert fmt.parse_pair(lab.exec("n1", ["drbdadm", "role", "r0"]).stdout)[0] == "Secondary"
        failed = hbd_test(lab, "status")
        assert failed.returncode != 0 and failed.stdout.splitlines()[-1] == "Status check of database failed"
    finally:
        hbd_test(lab, "stop")


def test_a_failed_start_stops_where_it_failed(lab: Lab) -> None:
    etc = lab.path("n1", "/etc/cluster")
    (etc / "cluster.conf").write_text(CLUSTER_CONF.format(vip=VIP))
    (etc / "dbscript").write_text(SCRIPT)
    (etc / "dbscript").chmod(0o755)
    assert lab.exec("n2", ["drbdadm", "primary", "r0"]).returncode == 0  # the peer holds the disk
    try:
        start = hbd_test(lab, "start")
        assert start.returncode != 0
        assert start.stdout.splitlines()[-1] == "Failed to start database", start.stdout + start.stderr
        assert steps(start.stdout) == START_ORDER[:4]  # fs never ran
        assert "peer is Primary" in start.stdout and not mounted(lab)
    finally:
        hbd_test(lab, "stop")


HACF = "keepalive 1\ndeadtime 10\nbcast eth0\nauto_failback on\nnode n1 n2\n"
HARESOURCES = "n1 drbddisk::r0 Filesystem::/dev/drbd0::/srv/db::ext4 IPaddr2::{vip}/24/eth0:1 dbservice::fast\n"
RESOURCE_D_SCRIPT = """#!/bin/sh
# A Heartbeat resource.d script: its argument comes before the action.
STATE=/run/hbd/dbservice.$1
case "$2" in
  start) touch $STATE;;
  stop) rm -f $STATE;;
  status) if [ -e $STATE ]; then echo "running"; exit 0; fi; echo "stopped"; exit 3;;
esac
"""


def test_haresources_group_runs_left_to_right_and_back(lab: Lab) -> None:
    ha_d = lab.path("n1", "/etc/ha.d")
    (ha_d / "ha.cf").write_text(HACF)
    (ha_d / "haresources").write_text(HARESOURCES.format(vip=VIP))
    (ha_d / "resource.d").mkdir(exist_ok=True)
    (ha_d / "resource.d" / "dbservice").write_text(RESOURCE_D_SCRIPT)
    (ha_d / "resource.d" / "dbservice").chmod(0o755)
    group = "drbddisk::r0"
    command = ["hbd", "test", "test", "{op}", "service", group, "-c", "/etc/ha.d", "--node", "n1", "--force"]
    order = ["drbddisk::r0", "Filesystem::/dev/drbd0::/srv/db::ext4", f"IPaddr2::{VIP}/24/eth0:1", "dbservice::fast"]
    try:
        start = lab.exec("n1", [w.format(op="start") for w in command], check=False, timeout=120)
        assert start.returncode == 0, start.stdout + start.stderr
        assert steps(start.stdout) == order
        assert start.stdout.splitlines()[-1] == f"Start of {group} complete"
        assert mounted(lab) and has_address(lab, "n1", VIP, "eth0")
        assert lab.exec("n1", ["test", "-e", "/run/hbd/dbservice.fast"], check=False).returncode == 0
        stop = lab.exec("n1", [w.format(op="stop") for w in command], check=False, timeout=120)
        assert stop.returncode == 0, stop.stdout + stop.stderr
        assert steps(stop.stdout) == order[::-1]
        assert not mounted(lab) and not has_address(lab, "n1", VIP, "eth0")
        assert lab.exec("n1", ["test", "-e", "/run/hbd/dbservice.fast"], check=False).returncode == 1
    finally:
        lab.exec("n1", [w.format(op="stop") for w in command], check=False, timeout=120)
