"""`hbd advise` on synthetic histograms (the daemon's own Metrics, fed heartbeats at chosen times): the rule,
the evidence, the refusals, the exit codes; and against a real daemon with no peer heard (exit 1) or none (3)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from hbd.cli import advise_cmd
from hbd.cli.advise_cmd import advise, quantile_upper_ms, round_up_ms
from hbd.runtime.metrics import Metrics
from hbd.runtime.control_messages import encode
from tests.unit.service_daemon import free_udp_port, hbd, running_daemon, write_config

NOW = 1_000_000.0


def snapshot(gaps_by_link: dict[str, list[float]], keepalive_ms: int = 1000, warntime_ms: int = 5000,
             deadtime_ms: int = 10000, started: float = NOW - 7200, peer: str = "n2") -> dict[str, Any]:
    """Heartbeats from `peer`: on each link at the cumulative times of its gaps; seq numbers shared by time."""
    m = Metrics("n1", keepalive_ms, warntime_ms, deadtime_ms)
    m.started_wall = started
    events: list[tuple[float, str]] = []
    for link, gaps in gaps_by_link.items():
        t = 0.0
        events.append((t, link))
        for gap in gaps:
            t += gap
            events.append((round(t, 6), link))
    seq_of: dict[float, int] = {t: i for i, t in enumerate(sorted({t for t, _ in events}))}
    for t, link in sorted(events):
        m.heartbeat(peer, link, seq_of[t], t)
    return m.intervals_snapshot()


def steady(n: int, gap: float = 1.0, spikes: dict[int, float] | None = None) -> list[float]:
    out = [gap] * n
    for i, value in (spikes or {}).items():
        out[i] = value
    return out


def test_deadtime_is_factor_times_the_longest_gap_and_warntime_sits_between() -> None:
    snap = snapshot({"eth0": steady(3000, spikes={100: 3.2, 2000: 2.1})})
    adv = advise(snap, ["n2"], NOW)
    assert adv.ok, adv.reasons
    assert adv.worst is not None and adv.worst.link == "any" and adv.worst.max_ms == pytest.approx(3200)
    # 2 x 3200 ms = 6400 ms; p99.9 of 3000 gaps is the 3rd longest, in the 1.05 s bucket -> 1.5 x 1050 ms
    assert adv.recommended == {"keepalive_ms": 1000, "warntime_ms": 2000, "deadtime_ms": 6400}
    assert adv.p999 is not None and adv.p999.p999_ms == pytest.approx(1050)
    assert adv.current["deadtime_ms"] == 10000
    text = advise_cmd.format_advice(adv, 2.0)
    assert "deadtime  6400ms" in text and "3200 ms from n2 over any link" in text


def test_a_gap_beyond_the_current_deadtime_is_called_out() -> None:
    snap = snapshot({"eth0": steady(2000, spikes={5: 6.0})}, deadtime_ms=8000)
    adv = advise(snap, ["n2"], NOW, factor=3.0)
    assert adv.recommended is not None and adv.recommended["deadtime_ms"] == 18000
    assert "a false failover is possible" in advise_cmd.format_advice(adv, 3.0)


def test_over_any_link_hides_a_lossy_link_but_the_per_link_row_shows_it() -> None:
    # eth1 loses heartbeats (a 5 s hole); eth0 carries every one: death is judged over any link
    snap = snapshot({"eth0": steady(2000), "eth1": steady(1996, spikes={10: 5.0})})
    adv = advise(snap, ["n2"], NOW)
    assert adv.ok and adv.recommended is not None
    assert adv.recommended["deadtime_ms"] == 4000  # 4 x keepalive: every gap over any link is 1 s
    rows = {(s.node, s.link): s for s in adv.series}
    assert rows[("n2", "eth1")].max_ms == pytest.approx(5000)
    assert rows[("n2", "any")].count == 2000
    assert "link eth1 from n2: a gap of 5000 ms" in advise_cmd.format_advice(adv, 2.0)


def test_warntime_stays_below_deadtime() -> None:
    # p99.9 near the longest gap: 1.5 x p99.9 would pass deadtime
    snap = snapshot({"eth0": [1.0] * 1000 + [2.9] * 5}, keepalive_ms=1000)
    adv = advise(snap, ["n2"], NOW, factor=1.5)
    assert adv.recommended is not None
    assert adv.recommended["warntime_ms"] < adv.recommended["deadtime_ms"]
    assert adv.recommended["warntime_ms"] == adv.recommended["deadtime_ms"] - 1000


def test_too_few_samples_is_refused_with_the_reason() -> None:
    snap = snapshot({"eth0": steady(200)}, keepalive_ms=200)
    adv = advise(snap, ["n2"], NOW)
    assert not adv.ok and adv.recommended is None
    assert adv.reasons == ["n2: 200 heartbeat intervals recorded over any link, 1000 needed "
                           "(about 3 more minutes at keepalive 200 ms)"]
    assert "no advice: not enough data" in advise_cmd.format_advice(adv, 2.0)


def test_a_silent_configured_peer_and_a_short_period_are_refused() -> None:
    snap = snapshot({"eth0": steady(5000)}, started=NOW - 60)
    adv = advise(snap, ["n2", "n3"], NOW)
    assert not adv.ok
    assert any(r.startswith("n3: 0 heartbeat intervals") for r in adv.reasons), adv.reasons
    assert any("has run 60 s, 3600 s needed" in r for r in adv.reasons), adv.reasons
    assert advise(snap, ["n2"], NOW, min_period_s=30).ok


def test_no_peer_at_all_is_refused() -> None:
    adv = advise(snapshot({}), [], NOW)
    assert not adv.ok and adv.reasons == ["no heartbeat intervals recorded from any peer yet"]


def test_quantile_is_an_upper_bound_capped_by_the_longest_gap() -> None:
    bounds = [0.5, 1.0, 2.0]
    assert quantile_upper_ms(bounds, [0, 999, 1, 0], 1.7) == pytest.approx(1000)
    assert quantile_upper_ms(bounds, [0, 998, 2, 0], 1.7) == pytest.approx(1700)  # capped: max 1.7 s
    assert quantile_upper_ms(bounds, [0, 990, 0, 10], 9.0) == pytest.approx(9000)  # +Inf bucket: the max
    assert quantile_upper_ms(bounds, [0, 0, 0, 0], 0.0) == 0.0


@pytest.mark.parametrize(("value", "rounded"), [(6400, 6400), (6401, 6500), (999.1, 1000), (12001, 13000),
                                                (401, 410)])
def test_round_up(value: float, rounded: int) -> None:
    assert round_up_ms(value) == rounded


def test_json_output_and_exit_codes(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    good = snapshot({"eth0": steady(1500, spikes={3: 2.5})})
    status = {"nodes": [{"name": "n1", "local": True}, {"name": "n2", "local": False}]}
    answers = {"intervals": {"ok": True, "intervals": good}, "status": {"ok": True, "status": status}}
    monkeypatch.setattr(advise_cmd, "ask", lambda prog, sock, payload, timeout: answers[encode(payload)["cmd"]])
    monkeypatch.setattr(advise_cmd.time, "time", lambda: NOW)
    assert advise_cmd.main(["--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["schema"] == 1 and out["ok"] and out["recommended"]["deadtime_ms"] == 5000
    assert {(s["node"], s["link"]) for s in out["series"]} == {("n2", "eth0"), ("n2", "any")}
    answers["intervals"]["intervals"] = snapshot({"eth0": steady(10)})
    assert advise_cmd.main([]) == 1
    assert "10 heartbeat intervals recorded" in capsys.readouterr().out
    answers["intervals"] = {"ok": False, "text": "unknown command 'intervals'"}
    assert advise_cmd.main([]) == 1
    assert "did not answer 'intervals'" in capsys.readouterr().err
    monkeypatch.setattr(advise_cmd, "ask", lambda *a: 3)
    assert advise_cmd.main([]) == 3


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--factor", "1.0"], ["--min-samples", "0"], ["--min-period", "nan"], ["--bogus"]):
        with pytest.raises(SystemExit) as exc:
            advise_cmd.main(argv)
        assert exc.value.code == 2, argv
    with pytest.raises(SystemExit) as exc:
        advise_cmd.main(["--help"])
    assert exc.value.code == 0
    helptext = capsys.readouterr().out
    assert "exit codes: 0 advice given, 1 not enough data" in helptext and "FACTOR x the longest gap" in helptext


def test_no_daemon_exits_3(tmp_path: Path) -> None:
    done = hbd("advise", "--socket", str(tmp_path / "none.sock"))
    assert done.returncode == 3 and "not running" in done.stderr, done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: SO_BINDTODEVICE on the heartbeat socket")
def test_real_daemon_with_a_silent_peer_exits_1(tmp_path: Path) -> None:
    config = write_config(tmp_path, free_udp_port())
    with running_daemon(tmp_path, config) as sock:
        done = hbd("advise", "--socket", sock, "--json")
        assert done.returncode == 1, done.stdout + done.stderr
        out = json.loads(done.stdout)
        assert not out["ok"] and out["current"] == {"keepalive_ms": 200, "warntime_ms": 1000, "deadtime_ms": 2000}
        assert any(r.startswith("n2: 0 heartbeat intervals") for r in out["reasons"]), out["reasons"]
