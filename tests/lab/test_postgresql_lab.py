"""PostgreSQL on the replicated disk behind the VIP, haresources form of etc/examples/postgresql/ (lab values:
tests/lab/pg_config.py): a client commits numbered rows over the VIP throughout. kill -9 of the postmaster
-> the status check fails and the daemon restarts it in place (stale postmaster.pid, crash recovery); then
power-off of the active node -> the peer takes the disk, the address and the database (crash recovery).
After each: every acknowledged commit is in the table on the node now serving, none twice, none that was
never committed; the server's log shows a completed crash recovery; the invariant watcher (the file system
mounted on one node only, the VIP on one node, one Primary while connected) saw nothing wrong."""
from __future__ import annotations

from pg_lab import pg_cluster


def test_acknowledged_commits_survive_kill_9_of_the_postmaster_and_a_power_off() -> None:
    with pg_cluster("haresources") as pg:
        assert pg.active() == "n1"
        killed = pg.settle("kill -9 postmaster", pg.kill_postmaster("n1"), expect="n1")
        assert killed.log == "crash recovery", killed
        moved = pg.settle("power-off", pg.power_off("n1"), expect="n2")
        assert moved.log == "crash recovery", moved
        for r in pg.results:
            print(f"{r.event}: serving on {r.node} after {r.outage_s:.2f} s; {r.verdict.describe()}; {r.log}")
