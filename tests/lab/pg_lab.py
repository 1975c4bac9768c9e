"""PostgreSQL behind the VIP in the lab, in either form of the example (etc/examples/postgresql/, with the
lab values of pg_config.py): the data directory on the emulated DRBD + ext4, real daemons on both nodes,
the client workload (pg_workload.py) committing rows over the VIP, the invariant watcher (VIP on one node,
the file system mounted once, one Primary while connected) on from before the first commit to the end.

    with pg_cluster("haresources") as pg:
        at = pg.kill_postmaster(pg.active())     # or power_off, kill_hbd, move (hbd-standby/svc relocate), stop_hbd
        result = pg.settle(at, expect="n1")      # outage over -> every acknowledged row there, the log's verdict

Used by tests/lab/pg_rounds.py (tests/lab/test_postgresql_rounds_lab.py, bench/postgresql_failover.py).
"""
from __future__ import annotations

import contextlib
import datetime
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pg_config as cfg
import pg_fencing
from daemon_lab import FAST, lab_cluster
from pg_workload import SCHEMA, Journal, Verdict, check_rows
from rgmanager_lab import CONF_DIR, mount_hosts, service, write_cluster_conf

from hbd.errors import LabError
from hbd.lab.hbd_cluster import HbdCluster
from hbd.lab.power_switch import PowerSwitch
from hbd.lab.watch import InvariantWatcher

FORMS = ("haresources", "cluster")
WORKLOAD = Path(__file__).resolve().parent / "pg_workload.py"
PG = "/usr/lib/postgresql/15/bin"
CLIENT_NET = "192.0.2.0/24"
WAIT_S = 60.0


def pg_exec(cluster: HbdCluster, node: str, argv: list[str], timeout: float = 60, input: str | None = None) -> str:
    done = cluster.lab.exec(node, ["runuser", "-u", "postgres", "--", *argv], timeout=timeout, check=False, input=input)
    assert done.returncode == 0, f"{node}: {argv}: exit {done.returncode}\n{done.stdout}{done.stderr}"
    return str(done.stdout)


def install(cluster: HbdCluster, form: str, switch: PowerSwitch | None = None) -> None:
    """The example's files on every node; the init script in the node's own /etc/init.d (a bind mount). With a
    switch: fencing configured (pg_fencing.py), the node's and DRBD's."""
    lab = cluster.lab
    if form == "cluster":
        text = cfg.cluster_conf()
        write_cluster_conf(cluster, text if switch is None else pg_fencing.cluster_fencing(text, switch, lab.nodes))
    if switch is not None:
        pg_fencing.drbd_fencing(cluster)
    for node in lab.nodes:
        ha_d = lab.path(node, "/etc/ha.d")
        if form == "haresources":
            (ha_d / "ha.cf").write_text(cfg.hacf() + (pg_fencing.hacf_fencing(switch) if switch else ""))
            (ha_d / "haresources").write_text(cfg.haresources())
        (ha_d / "init.d").mkdir(exist_ok=True)
        (ha_d / "init.d" / cfg.SCRIPT).write_text(cfg.init_script())
        (ha_d / "init.d" / cfg.SCRIPT).chmod(0o755)
        (ha_d / "postgresql-ha.defaults").write_text(cfg.defaults())
        lab.path(node, "/var/lib/hbd").joinpath("pgsql").mkdir(exist_ok=True)
        lab.exec(node, ["mount", "--bind", "/etc/ha.d/init.d", "/etc/init.d"])


def init_database(cluster: HbdCluster, node: str = "n1") -> None:
    """initdb on the shared disk (as Primary, mounted by hand), the workload's table, clients from the lab's net."""
    lab = cluster.lab
    lab.exec(node, ["drbdadm", "primary", "r0"])
    lab.exec(node, ["mount", "-t", "ext4", "/dev/drbd0", cfg.MOUNT])
    try:
        lab.exec(node, ["chown", "postgres:postgres", cfg.MOUNT])
        pg_exec(cluster, node, [f"{PG}/initdb", "-N", "-A", "trust", "-U", "postgres", "-D", cfg.PGDATA])
        pg_exec(cluster, node, ["sh", "-c", f"echo 'host all all {CLIENT_NET} trust' >> {cfg.PGDATA}/pg_hba.conf"])
        pg_exec(cluster, node, [f"{PG}/postgres", "--single", "-D", cfg.PGDATA, "postgres"], input=SCHEMA + ";\n")
    finally:
        lab.exec(node, ["umount", cfg.MOUNT])
        lab.exec(node, ["drbdadm", "secondary", "r0"])


def _log_time(line: str) -> float | None:
    """The time of a server log line ("2026-12-08 01:38:49.123 UTC [1234] LOG: ..."), in seconds."""
    try:
        day, clock = line.split()[:2]
        return datetime.datetime.fromisoformat(f"{day} {clock}").timestamp()
    except ValueError:
        return None


@dataclass(frozen=True)
class Settled:
    event: str
    node: str           # where PostgreSQL runs afterwards
    outage_s: float     # the longest time without an acknowledged commit from the last one before the event
    verdict: Verdict
    log: str            # "clean start" or "crash recovery"
    start_s: float | None = None  # PostgreSQL's own start, from its log: "starting" to "ready" (None: unread)


class PgCluster:
    def __init__(self, cluster: HbdCluster, form: str, journal: Path, switch: PowerSwitch | None = None):
        self.cluster, self.form, self.journal_path, self.switch = cluster, form, journal, switch
        self.lab = cluster.lab
        self.workload: subprocess.Popen[bytes] | None = None
        self.results: list[Settled] = []
        self.event_done = 0.0  # when the last event that takes a while (a power-off) was complete

    # ---- daemons
    def prepare(self) -> None:
        """`hbd config check` in n1 (every node-local check: interfaces, scripts, DRBD) calls it usable."""
        path = CONF_DIR if self.form == "cluster" else "/etc/ha.d"
        check = self.cluster.cli("n1", ["hbd", "config", "check", "-c", path])
        assert check.returncode == 0, check.stdout + check.stderr

    def wait_started(self) -> None:
        """Both daemons started: the database running on n1; haresources: each node judges the other by the
        configured deadtime (the first one is longer)."""
        self.wait_serving("n1")
        if self.form == "haresources":
            for observer, peer in (("n2", "n1"), ("n1", "n2")):
                self.wait_status(observer, lambda st, p=peer: any(
                    n["name"] == p and n["deadtime_ms"] == FAST.deadtime_ms for n in st["nodes"]))

    def close(self) -> None:
        """Anything of its own to stop before the lab goes (the lab fixture stops hbd)."""

    def daemon_args(self) -> list[str]:
        return ["-c", CONF_DIR] if self.form == "cluster" else []

    def start_hbd(self, node: str) -> None:
        self.cluster.start(node, self.daemon_args())

    def status(self, node: str) -> dict[str, Any] | None:
        """`hbd status --json` on `node`; None when it does not answer within 30 s (a loaded machine)."""
        try:
            done = self.lab.exec(node, ["hbd", "status", "--json"], timeout=30, check=False)
        except LabError:
            return None
        return json.loads(done.stdout) if done.returncode == 0 else None  # type: ignore[no-any-return]

    def wait_status(self, node: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = WAIT_S) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.status(node)
            if last is not None and predicate(last):
                return
            time.sleep(0.1)
        raise AssertionError(f"{node}: status condition not met within {timeout} s; last status {last}\n"
                             f"{self.cluster.log(node)[-3000:]}\n{self.cluster.stderr(node)[-3000:]}")

    def serving(self, st: dict[str, Any], node: str) -> bool:
        if self.form == "cluster":
            return service(st, "pgsql")["owner"] == node and service(st, "pgsql")["state"] == "started"
        return self.cluster.owner(st) == node and bool(st["stable"]) and all(
            g["state"] in ("running", "stopped") for g in st["groups"])

    def wait_serving(self, node: str, timeout: float = WAIT_S) -> None:
        """The daemon on `node` reports the database running there (haresources: and stable)."""
        self.wait_status(node, lambda st: self.serving(st, node), timeout)

    def wait_joined(self, node: str, holder: str, timeout: float = WAIT_S) -> None:
        """The daemon on `node`, started again, sees the database running on `holder`."""
        self.wait_status(node, lambda st: st["phase"] == "running" and self.serving(st, holder), timeout)

    def boot(self, node: str) -> None:
        """Power on again: fresh namespaces, so the bind mounts again, then the daemon."""
        self.lab.boot(node)
        self.booted(node)

    def booted(self, node: str) -> None:
        """A node just powered on (by boot(), or by a fence device's reboot): the bind mounts, then the daemon."""
        self.lab.exec(node, ["mount", "--bind", "/etc/ha.d/init.d", "/etc/init.d"])
        if self.form == "cluster":
            mount_hosts(self.cluster, node)
        self.start_hbd(node)

    # ---- where things are
    def live(self) -> list[str]:
        return [n for n in self.lab.nodes if n not in self.lab.state["powered_off"]]

    def mounted_on(self) -> list[str]:
        return [n for n in self.live() if self.lab.exec(n, ["mountpoint", "-q", cfg.MOUNT], check=False).returncode == 0]

    def active(self) -> str:
        nodes = self.mounted_on()
        assert len(nodes) == 1, f"the database's file system is mounted on {nodes}"
        return nodes[0]

    def other(self, node: str) -> str:
        return next(n for n in self.lab.nodes if n != node)

    def postmaster_pid(self, node: str) -> int:
        return int(self.lab.exec(node, ["head", "-n", "1", f"{cfg.PGDATA}/postmaster.pid"]).stdout.strip())

    # ---- the workload
    def start_workload(self, max_seconds: float = 900) -> None:
        self.workload = self.lab.client_spawn(
            [sys.executable, str(WORKLOAD), "--host", cfg.VIP, "--journal", str(self.journal_path),
             "--max-seconds", str(max_seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def journal(self) -> Journal:
        return Journal.read(self.journal_path) if self.journal_path.exists() else Journal()

    def wait_acks(self, count: int, after: float = 0.0, timeout: float = WAIT_S) -> Journal:
        deadline = time.monotonic() + timeout
        while True:
            j = self.journal()
            if j.acks_after(after) >= count:
                return j
            self.workload_running()
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {count} commits acknowledged within {timeout} s after the event; "
                                     f"last errors {j.errors[-5:]}\n{self.cluster.log(self.live()[0])[-3000:]}")
            time.sleep(0.05)

    def workload_running(self) -> None:
        """Raises when the client exited (an error, or its --max-seconds bound: pg_cluster's workload_s)."""
        if self.workload is not None and self.workload.poll() is not None:
            err = self.workload.stderr.read().decode(errors="replace") if self.workload.stderr else ""
            raise AssertionError(f"the workload exited ({self.workload.returncode}): {err[-2000:]}")

    def stop_workload(self) -> None:
        if self.workload is not None and self.workload.poll() is None:
            self.workload.send_signal(signal.SIGTERM)
            try:
                self.workload.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.workload.kill()
                self.workload.wait(timeout=5)

    # ---- events: each returns time.monotonic() just before it
    def kill_postmaster(self, node: str) -> float:
        pid = self.postmaster_pid(node)
        at = time.monotonic()
        self.lab.exec(node, ["kill", "-9", str(pid)])
        # A backend that is never idle may commit on for a while after its postmaster died (it notices only
        # when it waits): the event has happened for the client once one of its statements failed.
        deadline = time.monotonic() + WAIT_S
        while not any(e >= at for e in self.journal().error_times):
            self.workload_running()
            if time.monotonic() > deadline:
                raise AssertionError(f"the client saw no failure within {WAIT_S} s of the kill of {pid} on {node}:\n"
                                     + self.describe(node))
            time.sleep(0.05)
        return at

    def describe(self, node: str) -> str:
        """What a failed wait shows of `node`: its postgres processes, its status, its daemon's last lines."""
        ps = self.lab.exec(node, ["ps", "-eo", "pid,ppid,stat,lstart,cmd"], check=False).stdout
        pg = "\n".join(ln for ln in ps.splitlines() if "postgres" in ln or "PID" in ln)
        log = pg_fencing.daemon_log(self, node)
        return f"postgres processes:\n{pg}\nstatus: {json.dumps(self.status(node))}\ndaemon log:\n{log[-6000:]}"

    def power_off(self, node: str) -> float:
        at = time.monotonic()
        self.cluster.power_off(node)
        self.event_done = time.monotonic()
        return at

    def kill_hbd(self, node: str) -> float:
        at = time.monotonic()
        self.cluster.kill9(node)
        return at

    def kill_hbd_and_restart(self, node: str) -> float:
        """kill -9 of the holder's daemon: the database keeps running there; the peer declares it dead and
        its takeover must fail (the address answers, the disk is Primary there) without touching the copy
        that runs; the daemon started again keeps the database where it is."""
        at = self.kill_hbd(node)
        peer = self.other(node)
        self.wait_status(peer, lambda st: any(n["name"] == node and n["status"] == "dead" for n in st["nodes"]))
        self.wait_acks(20, after=time.monotonic())  # still committing, after the peer's verdict
        self.start_hbd(node)
        if self.form == "haresources":
            self.wait_serving(node)  # it finds its group running and keeps it
        else:
            # the daemon's start-up stop takes the database down here, and the cluster places it again
            self.wait_status(node, lambda st: st["phase"] == "running" and service(st, "pgsql")["state"] == "started"
                             and service(st, "pgsql")["owner"] is not None)
            self.wait_acks(20, after=time.monotonic())
        return at

    def move(self, node: str) -> float:
        """hbd-standby on the holder (haresources), hbd svc relocate to the other node (cluster.conf)."""
        at = time.monotonic()
        argv = (["hbd", "svc", "relocate", "pgsql", "-m", self.other(node)] if self.form == "cluster"
                else ["hbd-standby"])
        done = self.cluster.cli(node, argv, timeout=120)
        assert done.returncode == 0, f"{argv}: exit {done.returncode}: {done.stdout}{done.stderr}"
        return at

    def stop_hbd(self, node: str) -> float:
        at = time.monotonic()
        assert self.cluster.stop(node, timeout=120) == 0
        return at

    # ---- after an event
    def settle(self, event: str, at: float, expect: str | None, acks: int = 20) -> Settled:
        """Wait for `acks` commits acknowledged after the event on `expect` (None: on the one node that has the
        file system mounted), then check the rows there and the server's log."""
        deadline = time.monotonic() + WAIT_S
        # not before the event is complete: a power-off takes a while to kill everything (the cgroup's freeze,
        # up to 1 s on a loaded machine), and the node answers commits until then
        start = max(at, self.event_done)
        while True:  # `acks` commits after the event's last failure seen by the client
            since = max([start, *(e for e in self.journal().error_times if e >= at)])
            j = self.wait_acks(acks, after=since, timeout=max(deadline - time.monotonic(), 1.0))
            if max([start, *(e for e in j.error_times if e >= at)]) == since:
                break
            assert time.monotonic() < deadline, f"after {event}: still failing after {WAIT_S} s: {j.errors[-5:]}"
        if expect is None:
            expect = self.active()
        assert self.active() == expect, f"after {event}: the database runs on {self.active()}, not {expect}"
        self.wait_serving(expect)
        j = self.journal()  # before the rows: every commit acknowledged so far must be among them
        known = max([*j.acked, *j.doubt, *j.failed], default=0)
        rows = [int(x) for x in pg_exec(self.cluster, expect, [f"{PG}/psql", "-h", cfg.SOCKDIR, "-At", "-c",
                                                               "SELECT n FROM acked"]).split()]
        verdict = check_rows(j, [n for n in rows if n <= known])  # above `known`: in flight, not yet journaled
        assert verdict.ok, f"after {event} on {expect}: {verdict.describe()}"
        spans = [(b, e) for b, e in j.outages() if b >= at - 0.001]
        assert all(e is not None for _, e in spans), spans
        outage = j.longest_gap(at)  # failed statements or none (one left hanging over a healed cut counts)
        result = Settled(event, expect, outage, verdict, self.log_verdict(expect), self.start_seconds(expect))
        self.results.append(result)
        return result

    def start_seconds(self, node: str) -> float | None:
        """How long the server's last start took by its own log (the default log_line_prefix has the time)."""
        lines = self.lab.exec(node, ["cat", cfg.PGLOG]).stdout.splitlines()
        begin = max((i for i, ln in enumerate(lines) if "starting PostgreSQL" in ln), default=None)
        if begin is None:
            return None
        ready = next((ln for ln in lines[begin:] if "ready to accept connections" in ln), "")
        began, done = _log_time(lines[begin]), _log_time(ready)
        return None if began is None or done is None else round(done - began, 3)

    def log_verdict(self, node: str) -> str:
        """The server's last start in its log: a clean start, or a crash recovery that completed."""
        text = self.lab.exec(node, ["cat", cfg.PGLOG]).stdout
        head = text.rfind("starting PostgreSQL")
        assert head >= 0, text[-3000:]
        last = text[head:]
        assert "database system is ready to accept connections" in last, last[-3000:]
        assert "PANIC" not in last, last[-3000:]
        if "not properly shut down" in last or "was interrupted" in last:
            assert "redo done at" in last or "redo is not required" in last, last[-3000:]
            return "crash recovery"
        assert "database system was shut down at" in last, last[-3000:]
        return "clean start"


@contextlib.contextmanager
def pg_cluster(form: str, fencing: bool = False, workload: bool = True,
               kind: type[PgCluster] = PgCluster, workload_s: float = 900) -> Iterator[PgCluster]:
    """Both daemons up with the database on n1, the watcher on, the workload committing (unless not
    `workload`: another client, e.g. pgbench); `fencing`: the lab's power switch as both nodes' fence device,
    and DRBD's resource-level fencing (pg_fencing.py); `kind`: another cluster manager running the same
    files (a subclass that starts and stops it instead of hbd); `workload_s`: the client's own bound (it exits
    after it, so that a client left behind ends)."""
    assert form in FORMS, form
    with lab_cluster(FAST) as cluster, contextlib.ExitStack() as stack:
        switch = stack.enter_context(PowerSwitch(cluster.lab)) if fencing else None
        install(cluster, form, switch)
        init_database(cluster)
        pg = kind(cluster, form, cluster.lab.layout.client_dir / "pg_journal", switch)
        pg.prepare()
        watcher = InvariantWatcher(cluster.lab, vip=cfg.VIP, mountpoint=cfg.MOUNT, drbd="r0", interval=0.02).start()
        try:
            pg.start_hbd("n1")
            pg.start_hbd("n2")
            pg.wait_started()
            if workload:
                pg.start_workload(workload_s)
                pg.wait_acks(20)
            yield pg
            pg.stop_workload()
            assert pg.journal().acked or not workload, "no commit was acknowledged"
        finally:
            pg.stop_workload()
            pg.close()
            watcher.stop()
        watcher.check()
        assert watcher.polls > 10, "the invariant watcher did not run"
