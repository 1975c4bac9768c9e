"""The reduced run of the PostgreSQL end-to-end scenarios (bench/postgresql_failover.py runs 50): in each
form of etc/examples/postgresql/ (lab values: tests/lab/pg_config.py), 3 rounds of every scenario of
tests/lab/pg_rounds.py, a client committing numbered rows over the VIP throughout and the invariant watcher
(file system mounted once, VIP on one node, one Primary while connected) on from before the first commit.

Every event is settled by `PgCluster.settle`: every acknowledged commit is on the node now serving, none
twice, none that was never committed, and the server's last start is clean or a completed crash recovery.
Here each event must also have gone where it should: a killed postmaster restarted in place after a crash
recovery, a move / graceful stop / power-off to the other node, a partition kept by the holder with the
other node fenced, and after a replication-link cut and the Primary's power-off the survivor's disk
Outdated by `hbd fence-peer`, refused by hbd's guard, nothing acknowledged until the Primary was back."""
from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from pg_lab import FORMS, pg_cluster
from pg_rounds import FENCED, PLAIN, PARTITIONS, fenced_round, plain_round

ROUNDS = 3


def lossless(events: list[dict[str, Any]]) -> None:
    for e in events:
        assert (e["lost"], e["duplicates"], e["never_committed"]) == (0, 0, 0), e


def report(form: str, events: list[dict[str, Any]]) -> None:
    for e in events:
        print(f"{form} {e['scenario']}: {e['before']} -> {e['node']}, outage {e['outage_s']:.2f} s, {e['log']}")


@pytest.mark.parametrize("form", FORMS)
def test_three_rounds_of_every_scenario_lose_no_acknowledged_commit(form: str) -> None:
    with pg_cluster(form) as pg:
        assert pg.active() == "n1"
        events = [e for _ in range(ROUNDS) for e in plain_round(pg, set(PLAIN))]
    report(form, events)
    lossless(events)
    assert Counter(e["scenario"] for e in events) == {s: ROUNDS for s in PLAIN}
    for e in events:
        scenario, stayed = e["scenario"], e["node"] == e["before"]
        if scenario == "kill -9 postmaster":  # 2 kills per node in the run: within max_restarts
            assert stayed and e["log"] == "crash recovery", e
        elif scenario == "kill -9 hbd" and form == "haresources":  # the running group is kept
            assert stayed, e
        elif scenario in ("move", "stop hbd"):
            assert not stayed and e["log"] == "clean start", e
        elif scenario == "power-off":
            assert not stayed and e["log"] == "crash recovery", e


@pytest.mark.parametrize("form", FORMS)
def test_three_rounds_of_partition_and_cut_link_with_fencing_lose_no_acknowledged_commit(form: str) -> None:
    with pg_cluster(form, fencing=True) as pg:
        assert pg.active() == "n1"
        events = [e for r in range(ROUNDS) for e in fenced_round(pg, set(FENCED), r + 1)]
    report(form, events)
    lossless(events)
    partitions = [e for e in events if e["scenario"] in PARTITIONS]
    cuts = [e for e in events if e["scenario"] == "cut link + power-off"]
    assert len(partitions) == len(cuts) == ROUNDS, events
    assert {e["scenario"] for e in partitions} == set(PARTITIONS), partitions  # either node cut off
    for e in partitions:  # the holder fences the other node (pg_fencing.partition: and only it), keeps running
        assert e["node"] == e["before"] != e["fenced"], e
    for e in cuts:
        assert e["survivor_disk"].startswith("Outdated/") and e["peer_answered"], e
        assert "local disk is Outdated" in e["refusal"] and e["acks_while_off"] == 0, e
        # its log: settle's clean start or completed crash recovery (the database may have run on the other
        # node after the resync, and come back with a clean stop)
