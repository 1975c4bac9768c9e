"""The PostgreSQL example (etc/examples/postgresql/): `hbd config check` calls both forms usable, as shipped
and with the lab's values (tests/lab/pg_config.py); its LSB script run on Debian's PostgreSQL: LSB status
codes, a start after kill -9 of the postmaster (stale postmaster.pid, crash recovery), fast stop."""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))
import pg_config  # noqa: E402

EXAMPLE = pg_config.EXAMPLE
PGBIN = Path("/usr/lib/postgresql/15/bin")
KEY = "auth 1\n1 sha1 4b1d0c7e2a9f6358\n"


def config_check(path: Path, node: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hbd.cli.main", "config", "check", "-c", str(path), "--node", node],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("form", ["ha.d", "cluster/cluster.conf"])
def test_the_shipped_example_is_usable(form: str, tmp_path: Path) -> None:
    # installed as the README says (authkeys chmod 600): git keeps no file mode but the executable bit
    copy = tmp_path / "example"
    shutil.copytree(EXAMPLE, copy)
    for keys in copy.rglob("authkeys"):
        keys.chmod(0o600)
    done = config_check(copy / form, "hb1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 errors" in done.stdout and "is usable" in done.stdout, done.stdout


def test_both_forms_with_the_lab_values_are_usable(tmp_path: Path) -> None:
    ha_d, conf = pg_config.write_forms(tmp_path, KEY)
    for path in (ha_d, conf):
        done = config_check(path, "n1")
        assert done.returncode == 0, f"{path}: {done.stdout}{done.stderr}"
        assert "0 errors" in done.stdout, done.stdout
    assert "postgresql-ha" in (ha_d / "haresources").read_text()
    assert 'file="/etc/init.d/postgresql-ha"' in conf.read_text()


def test_a_broken_substitution_is_named() -> None:
    with pytest.raises(AssertionError, match="not found"):
        pg_config.substitute("keepalive 2\n", pg_config.HACF, "ha.cf")


# ---- the LSB script on a real server -------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def pg_dir() -> Iterator[tuple[Path, Path]]:
    """A data directory made by initdb in a directory the postgres user owns; the script, its defaults."""
    if os.geteuid() != 0 or not (PGBIN / "initdb").exists():
        pytest.skip("needs root and Debian's PostgreSQL 15 (tests/apt-packages: postgresql)")
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user (the postgresql package makes it)")
    top = Path(tempfile.mkdtemp(prefix="hbd-pg-"))
    try:
        top.chmod(0o755)
        os.chown(top, pw.pw_uid, pw.pw_gid)
        subprocess.run(["runuser", "-u", "postgres", "--", str(PGBIN / "initdb"), "-N", "-A", "trust", "-U", "postgres",
                        "-D", str(top / "data")], check=True, capture_output=True, timeout=120)
        script = top / "postgresql-ha"
        script.write_text((EXAMPLE / "init.d" / "postgresql-ha").read_text().replace(
            "DEFAULTS=/etc/default/postgresql-ha", f"DEFAULTS={top}/defaults"))
        script.chmod(0o755)
        (top / "defaults").write_text(pg_config.defaults(listen="127.0.0.1", port=free_port(), pgdata=str(top / "data"),
                                                         pglog=str(top / "postgresql.log"), sockdir=str(top)))
        yield top, script
    finally:
        subprocess.run([str(script), "stop"], capture_output=True, timeout=120) if (top / "postgresql-ha").exists() else None
        shutil.rmtree(top, ignore_errors=True)


def lsb(script: Path, op: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(script), op], capture_output=True, text=True, timeout=120)


def postmaster_pid(top: Path) -> int:
    return int((top / "data" / "postmaster.pid").read_text().split()[0])


def test_lsb_status_codes_and_a_start_after_kill_9(pg_dir: tuple[Path, Path]) -> None:
    top, script = pg_dir
    assert lsb(script, "status").returncode == 3
    assert lsb(script, "stop").returncode == 0  # stopping a stopped service succeeds (LSB)
    started = lsb(script, "start")
    assert started.returncode == 0, started.stdout + started.stderr + (top / "postgresql.log").read_text()
    assert lsb(script, "status").returncode == 0
    assert lsb(script, "start").returncode == 0  # already running: success, nothing started
    pid = postmaster_pid(top)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    dead = lsb(script, "status")
    assert dead.returncode == 1 and "is dead" in dead.stdout  # LSB 1: dead, and the pid file exists
    again = lsb(script, "start")  # the pid file is stale; the backends left behind go first
    assert again.returncode == 0, again.stdout + again.stderr + (top / "postgresql.log").read_text()[-3000:]
    assert "removing stale" in again.stdout
    assert postmaster_pid(top) != pid and lsb(script, "status").returncode == 0
    log = (top / "postgresql.log").read_text()
    assert "was interrupted" in log or "not properly shut down" in log, log[-3000:]
    assert lsb(script, "stop").returncode == 0
    assert lsb(script, "status").returncode == 3
    assert "database system is shut down" in (top / "postgresql.log").read_text()
    # kill -9 then stop (what a restart in place does): stopped, status 3, the next start is normal
    os.kill(postmaster_pid(top) if lsb(script, "start").returncode == 0 else 0, signal.SIGKILL)
    assert lsb(script, "status").returncode in (0, 1)  # 0 until the kernel has taken the process
    assert lsb(script, "stop").returncode == 0
    assert lsb(script, "status").returncode == 3
    assert lsb(script, "start").returncode == 0 and lsb(script, "status").returncode == 0


def test_no_database_there_is_not_configured(pg_dir: tuple[Path, Path]) -> None:
    top, script = pg_dir
    (top / "data").rename(top / "elsewhere")
    done = lsb(script, "start")
    assert done.returncode == 6 and "is the replicated file system mounted?" in done.stdout, done.stdout
    assert lsb(script, "status").returncode == 3


# ---- the lab workload's checker -------------------------------------------------------------------------

def test_the_checker_finds_lost_duplicated_and_never_committed_rows(tmp_path: Path) -> None:
    import pg_workload

    path = tmp_path / "journal"
    path.write_text("".join(
        f'{{"ev": "{ev}", "n": {n}, "t": {t}}}\n' for ev, n, t in
        (("ack", 1, 1.0), ("ack", 2, 2.0), ("doubt", 3, 3.0), ("fail", 4, 3.5), ("ack", 5, 6.0)))
        + '{"ev": "error", "t": 3.0, "what": "commit: server closed the connection"}\n{"ev": "error", "t": 4.0, "what": "x"}\n'
        + '{"ev": "ack", "n": 6')  # a line being written when it was read
    j = pg_workload.Journal.read(path)
    assert j.acked == [1, 2, 5] and j.doubt == {3} and j.failed == {4}
    assert j.outages() == [(3.0, 6.0)]
    assert pg_workload.check_rows(j, [1, 2, 5]).ok
    assert pg_workload.check_rows(j, [1, 2, 3, 5]).ok  # in doubt: either way
    bad = pg_workload.check_rows(j, [1, 1, 4, 5])
    assert not bad.ok and bad.lost == [2] and bad.duplicates == [1] and bad.never_committed == [4]


def test_the_outage_is_the_longest_time_without_an_acknowledged_commit(tmp_path: Path) -> None:
    import pg_workload

    j = pg_workload.Journal(ack_times=[1.0, 1.1, 1.2, 4.5, 4.6], error_times=[4.2])
    assert abs(j.longest_gap(1.15) - 3.3) < 1e-9  # from the last commit before the event, not the first error
    assert j.outages() == [(4.2, 4.5)]
