"""`hbd advise` on a running lab pair (keepalive 200 ms, two media): refused with the default evidence
thresholds a fresh daemon cannot meet, then, with small thresholds, advice whose evidence is what n2 measured
from n1 (every gap on each medium and over any link) and whose values follow the documented rule."""
from __future__ import annotations

import json
import time

from daemon_lab import FAST, lab_cluster


def test_advise_on_a_running_pair() -> None:
    with lab_cluster() as cluster:
        cluster.start("n1")
        cluster.start("n2")
        cluster.wait_owner("n1", timeout=20)
        cluster.wait_owner("n1", timeout=10, ask="n2")
        refused = cluster.cli("n2", ["hbd", "advise"])
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "no advice: not enough data" in refused.stdout
        assert "n1: " in refused.stdout and "1000 needed" in refused.stdout, refused.stdout
        small = ["hbd", "advise", "--json", "--min-samples", "25", "--min-period", "1"]
        deadline = time.monotonic() + 20
        while (done := cluster.cli("n2", small)).returncode != 0:
            assert done.returncode == 1, done.stdout + done.stderr
            assert time.monotonic() < deadline, done.stdout
            time.sleep(0.5)
        advice = json.loads(done.stdout)
        assert advice["ok"] and advice["node"] == "n2"
        assert advice["current"]["keepalive_ms"] == FAST.keepalive_ms
        assert advice["current"]["deadtime_ms"] == FAST.deadtime_ms
        rows = {(s["node"], s["link"]): s for s in advice["series"]}
        assert {link for node, link in rows if node == "n1"} >= {"any"} and len(rows) >= 3, rows
        over_any = rows[("n1", "any")]
        assert over_any["count"] >= 25
        # heartbeats every 200 ms: the mean gap is near keepalive, and no gap reached the configured deadtime
        assert 150 <= over_any["mean_ms"] <= 260, over_any
        assert over_any["max_ms"] < FAST.deadtime_ms
        rec = advice["recommended"]
        assert rec["keepalive_ms"] == FAST.keepalive_ms
        assert rec["deadtime_ms"] >= max(2 * over_any["max_ms"], 4 * FAST.keepalive_ms)
        assert 2 * FAST.keepalive_ms <= rec["warntime_ms"] < rec["deadtime_ms"]
        text = cluster.cli("n2", ["hbd", "advise", "--min-samples", "25", "--min-period", "1"])
        assert text.returncode == 0 and "recommended (ha.cf):" in text.stdout, text.stdout + text.stderr
        cluster.stop("n1")
        cluster.stop("n2")
        gone = cluster.cli("n2", ["hbd", "advise"])
        assert gone.returncode == 3 and "not running" in gone.stderr, gone.stderr
