"""The daemon in the lab: kill -9 of the active daemon (its resources never run twice, the restarted daemon
keeps them), hbd-standby / hbd-takeover both ways with exit codes, hbd status exit codes, hbd reload, the
pid lock; the invariant watcher runs throughout (the VIP is never on two nodes)."""
from __future__ import annotations

import os
import signal
import time

import pytest

from daemon_lab import FAST, group_state, lab_cluster, longest_outage, running_cluster


def test_kill_9_of_the_active_daemon_never_runs_the_group_twice() -> None:
    with running_cluster() as (cluster, watcher, probe):
        cluster.kill9("n1")
        # n2 declares n1 dead and tries to take over; IPaddr2's duplicate-address probe sees the VIP still
        # answering from n1, so the start fails, is undone, and the group stays where it really runs
        deadline = time.monotonic() + FAST.deadtime_ms / 1000 + 15
        marker = f"CRIT: Giving up resources due to failure of IPaddr2::{FAST.vip}/24/eth0 start failed"
        while marker not in cluster.log("n2") and time.monotonic() < deadline:
            time.sleep(0.05)
        log2 = cluster.log("n2")
        assert "WARN: node n1: is dead" in log2
        assert marker in log2, log2[-3000:]
        assert f"info: {FAST.vip} still answers from " in log2  # the pre-probe heard it before the verdict
        assert "were silent before the verdict" not in log2
        st2 = cluster.status("n2")
        assert st2 is not None and group_state(st2, cluster.settings.group) == "stopped"
        assert not cluster.service_running("n2") and cluster.service_running("n1")
        assert probe.current() == "n1"
        # the restarted daemon finds the group running and keeps it; n2 agrees
        cluster.start("n1")
        st1 = cluster.wait_owner("n1", timeout=15)
        assert group_state(st1, cluster.settings.group) == "running"
        assert "is already running here: keeping it" in cluster.log("n1")
        cluster.wait_owner("n1", timeout=10, ask="n2")
        assert probe.answerers() == ["n1"] and probe.outages() == []


def test_standby_and_takeover_both_ways(capsys: pytest.CaptureFixture[str]) -> None:
    with running_cluster() as (cluster, watcher, probe):
        gaps = []
        for node, command, owner in (("n1", "hbd-standby", "n2"), ("n2", "hbd-standby", "n1"),
                                     ("n2", "hbd-takeover", "n2"), ("n1", "hbd-takeover", "n1")):
            before = len(probe.outages())
            done = cluster.cli(node, [command])
            assert done.returncode == 0, (command, node, done.stdout, done.stderr)
            # the command returns once the handover has finished: the new owner already runs the group
            st = cluster.status(owner)
            assert st is not None and group_state(st, cluster.settings.group) == "running", st
            assert probe.wait_for(owner, 5), probe.transitions
            assert cluster.service_running(owner) and not cluster.service_running("n2" if owner == "n1" else "n1")
            gaps.append(longest_outage(probe) if len(probe.outages()) > before else 0.0)
        with capsys.disabled():
            print(f"\nhandover outages (client probe every 20 ms): {', '.join(f'{g * 1000:.0f} ms' for g in gaps)}")


def test_handover_commands_report_nothing_to_do_refusal_and_bad_words() -> None:
    with running_cluster() as (cluster, watcher, probe):
        # n2 holds nothing: nothing moves, and the command says so
        done = cluster.cli("n2", ["hbd-standby", "local"])
        assert done.returncode == 0 and done.stdout.startswith("nothing to hand over"), (done.stdout, done.stderr)
        assert cluster.cli("n1", ["hbd-standby", "nonsense"]).returncode == 2
        assert probe.current() == "n1"
        # with the peer gone there is nobody to hand over to
        cluster.stop("n2")
        cluster.wait_status("n1", lambda st: any(n["name"] == "n2" and n["status"] == "dead" for n in st["nodes"]),
                            timeout=FAST.deadtime_ms / 1000 + 5)
        done = cluster.cli("n1", ["hbd-standby"], timeout=60)
        assert done.returncode == 1 and done.stderr.startswith("hbd-standby: "), (done.stdout, done.stderr)
        assert probe.current() == "n1"


def test_status_exit_codes_and_pid_lock() -> None:
    with lab_cluster() as cluster:
        done = cluster.cli("n1", ["hbd", "status"])
        assert done.returncode == 3 and "not running" in done.stderr
        assert cluster.cli("n1", ["hbd-standby"]).returncode == 3
        cluster.start("n1")
        cluster.wait_status("n1", lambda st: st["phase"] in ("waiting", "running"), timeout=10)
        sock = cluster.lab.path("n1", "/run/hbd") / "hbd.sock"
        assert oct(os.stat(sock).st_mode & 0o777) == "0o600"
        second = cluster.cli("n1", ["hbd", "-f", "--node", "n1"], timeout=20)
        assert second.returncode == 75 and "already running" in second.stderr, second.stderr  # DaemonExit.ALREADY_RUNNING
        assert cluster.status("n1") is not None  # the first daemon is untouched
        comm = cluster.lab.exec("n1", ["ps", "-o", "comm=", "-p", str(cluster.status("n1")["pid"])]).stdout.strip()
        assert comm == "hbd"
        assert cluster.stop("n1") == 0
        assert cluster.cli("n1", ["hbd", "status"]).returncode == 3
        assert not sock.exists()


def test_reload_unchanged_changed_and_broken() -> None:
    """hbd reload compares the models (doc/daemon.md, "Reload"): exit 0 unchanged or applied, 6 unusable, 1 refused."""
    with running_cluster() as (cluster, watcher, probe):
        done = cluster.cli("n1", ["hbd", "reload"])
        assert done.returncode == 0 and done.stdout.strip() == "Configuration unchanged.", cluster.log("n1")[-4000:]
        assert "info: Configuration unchanged." in cluster.log("n1")
        haresources = {n: cluster.lab.path(n, "/etc/ha.d") / "haresources" for n in ("n1", "n2")}
        good = haresources["n1"].read_text()
        pid = cluster.status("n1")["pid"]
        haresources["n1"].write_text("n9 IPaddr2::192.0.2.51 nonsense\n")
        done = cluster.cli("n1", ["hbd", "reload"])
        assert done.returncode == 6 and "haresources" in done.stderr, (done.stdout, done.stderr)
        # a comment changes the file, not the model
        haresources["n1"].write_text("# reloaded\n" + good)
        done = cluster.cli("n1", ["hbd", "reload"])
        assert done.returncode == 0 and done.stdout.strip() == "Configuration unchanged.", (done.stdout, done.stderr)
        # the group running on n1 given another resource: refused, named, nothing changes
        group = cluster.settings.group
        haresources["n1"].write_text(good.rstrip("\n") + " IPaddr2::192.0.2.52/24/eth0\n")
        done = cluster.cli("n1", ["hbd", "reload"])
        assert done.returncode == 1 and "refused" in done.stderr and group in done.stderr, (done.stdout, done.stderr)
        st = cluster.status("n1")
        assert st["pid"] == pid and st["uptime_s"] > 3 and group_state(st, group) == "running"
        # a group added on both nodes: each daemon re-executes itself keeping its resources, n1 starts the new one
        added = "IPaddr2::192.0.2.51/24/eth0"
        for node in ("n2", "n1"):
            haresources[node].write_text(good + f"n1 {added}\n")
            done = cluster.cli(node, ["hbd", "reload"])
            assert done.returncode == 0 and "restarts and keeps its resources" in done.stdout \
                and f"group added: {added}" in done.stdout, (done.stdout, done.stderr, cluster.log(node)[-4000:])
        st = cluster.wait_status("n1", lambda s: s["uptime_s"] < 10 and s["stable"] and group_state(s, added) == "running"
                                 and cluster.owner(s) == "n1", timeout=20)
        assert st["pid"] == pid  # the same process, re-executed
        assert group_state(st, group) == "running"
        assert probe.answerers() == ["n1"] and probe.outages() == []


def test_daemonized_start_pidfile_and_stop_by_process_name() -> None:
    with lab_cluster() as cluster:
        done = cluster.cli("n1", ["hbd", "--node", "n1"], timeout=20)
        assert done.returncode == 0, done.stderr  # the parent returns once the daemon is detached
        st = cluster.wait_status("n1", lambda s: s["phase"] == "running", timeout=15)
        pidfile = cluster.lab.path("n1", "/run/hbd") / "hbd.pid"
        assert int(pidfile.read_text()) == st["pid"]
        # by name, among the node's own processes only (pkill would reach every lab on this machine)
        assert st["pid"] in cluster.lab.kill("n1", "hbd", signal.SIGTERM)
        deadline = time.monotonic() + 15
        while cluster.cli("n1", ["hbd", "status"]).returncode != 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert cluster.cli("n1", ["hbd", "status"]).returncode == 3
        assert "info: n1 hbd shutdown complete." in cluster.log("n1")
        assert not pidfile.exists()
