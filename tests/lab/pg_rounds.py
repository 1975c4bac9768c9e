"""Rounds of failures on PostgreSQL behind the VIP (pg_lab.py), each event settled and checked by
`PgCluster.settle` (every acknowledged commit on the node serving, none twice, none never committed, the
server's last start clean or a completed crash recovery) and returned as one JSON-able record. Used by
bench/postgresql_failover.py (50 events per scenario) and tests/lab/test_postgresql_rounds_lab.py (3).

Each round, on the node A that serves:

  kill -9 postmaster   status check fails -> restarted in place (beyond max_restarts=2 in 10 min: moved)
  kill -9 hbd          haresources: the peer's takeover fails (the address answers), A's daemon started again
                       keeps it; cluster.conf: A's daemon started again stops it first, the cluster places it
  move                 hbd-standby on A (haresources) / hbd svc relocate pgsql -m B (cluster.conf) -> B
  stop hbd             graceful stop of hbd on the holder -> the other node; the daemon is started again
  power-off            of the holder -> the other node; it is booted and its daemon started again
with fencing (the lab's power switch as fence device, DRBD resource-level fencing; pg_fencing.py):
  partition            every medium of one node dropped (the holder in odd rounds, the other in even ones):
                       the holder fences the other and keeps the database; the fenced node's daemon started
  cut link + power-off the replication link of A pulled, commits go on, A loses power: B must not promote its
                       disk (nothing acknowledged while A is off); link back, A up: the database runs again.
                       Its outage is the whole time A is off; "refused after" is power-off -> B's refusal.
"""
from __future__ import annotations

from typing import Any

import pg_fencing
from pg_lab import PgCluster, Settled

PLAIN = ("kill -9 postmaster", "kill -9 hbd", "move", "stop hbd", "power-off")
FENCED = ("partition", "cut link + power-off")
SCENARIOS = PLAIN + FENCED
PARTITIONS = ("partition, holder cut off", "partition, other node cut off")  # as reported
ORDER = PLAIN + PARTITIONS + FENCED
PEER_ANSWERED = "fence-peer r0: the peer answered: outdated (exit 4)"


def record(s: Settled, **extra: Any) -> dict[str, Any]:
    return {"scenario": s.event, "node": s.node, "outage_s": round(s.outage_s, 3), "lost": len(s.verdict.lost),
            "duplicates": len(s.verdict.duplicates), "never_committed": len(s.verdict.never_committed),
            "doubt_present": s.verdict.doubt_present, "doubt_absent": s.verdict.doubt_absent, "log": s.log,
            "pg_start_s": s.start_s, **extra}


def plain_round(pg: PgCluster, wanted: set[str]) -> list[dict[str, Any]]:
    out = []
    if "kill -9 postmaster" in wanted:
        a = pg.active()
        out.append(record(pg.settle("kill -9 postmaster", pg.kill_postmaster(a), expect=None), before=a))
    if "kill -9 hbd" in wanted:
        a = pg.active()
        at = pg.kill_hbd_and_restart(a)
        out.append(record(pg.settle("kill -9 hbd", at, expect=a if pg.form == "haresources" else None), before=a))
    if "move" in wanted:
        a = pg.active()
        out.append(record(pg.settle("move", pg.move(a), expect=pg.other(a)), before=a))
    if "stop hbd" in wanted:
        a = pg.active()
        out.append(record(pg.settle("stop hbd", pg.stop_hbd(a), expect=pg.other(a)), before=a))
        pg.start_hbd(a)
        pg.wait_joined(a, pg.other(a))
    if "power-off" in wanted:
        a = pg.active()
        out.append(record(pg.settle("power-off", pg.power_off(a), expect=pg.other(a)), before=a))
        pg.boot(a)
        pg.wait_joined(a, pg.other(a))
    return out


def fenced_round(pg: PgCluster, wanted: set[str], number: int) -> list[dict[str, Any]]:
    """`number` from 1: odd rounds cut the holder off, even ones the other node."""
    out = []
    if "partition" in wanted:
        holder = pg.active()
        cut = holder if number % 2 else pg.other(holder)
        at, fenced = pg_fencing.partition(pg, cut)
        name = PARTITIONS[0] if cut == holder else PARTITIONS[1]
        out.append(record(pg.settle(name, at, expect=holder), before=holder, cut=cut, fenced=fenced))
        pg.booted(fenced)
        pg.wait_joined(fenced, holder)
    if "cut link + power-off" in wanted:
        a = pg.active()
        at, refused = pg_fencing.cut_link_then_power_off(pg, a)
        answered = PEER_ANSWERED in pg_fencing.daemon_log(pg, a)  # a's log, before its daemon starts again
        pg_fencing.bring_back(pg, a)
        s = pg.settle("cut link + power-off", at, expect=None)
        out.append(record(s, before=a, survivor_disk=refused.disk, refused_after_s=round(refused.waited_s, 2),
                          refusal=refused.cluster_log_line, peer_answered=answered, failures=refused.failures,
                          acks_while_off=refused.acks_after))
        pg.wait_joined(pg.other(s.node), s.node)
    return out
