"""`hbd advise`: recommend keepalive / warntime / deadtime from the heartbeat intervals the running daemon saw.

A false failover is nearly always a deadtime chosen without data: a gap between two heartbeats longer than
deadtime (a loaded switch, a stalled VM, a long GC or I/O stall on the sender) is a death to the peer. The
daemon keeps a histogram of the gaps between heartbeats received from each peer, per link and over any link
(hbd/runtime/metrics.py, control request {"cmd": "intervals"}); this command reads it and applies the rule:

- keepalive: unchanged. The evidence was measured at the current keepalive; to change keepalive, change it,
  let the daemon run, and ask again.
- deadtime >= FACTOR x the longest gap seen over any link from any peer (default FACTOR 2), and at least
  4 x keepalive (Heartbeat refuses deadtime <= 2 x keepalive; 4 lets three heartbeats in a row be lost).
- warntime between the two: >= 1.5 x the 99.9th-percentile gap and >= 2 x keepalive (a "Late heartbeat"
  line then means something unusual), and at most deadtime - keepalive (the warning comes before the death).
- Values are rounded up: to 10 ms below 1 s, to 100 ms below 10 s, to 1 s above.

The 99.9th percentile is read from the histogram as the upper bound of the bucket that holds it (so it is
never underestimated), capped by the exact longest gap. Advice is refused (exit 1, with the reason) while any
configured peer has fewer than --min-samples gaps over any link, or the daemon has run less than
--min-period seconds: a p99.9 of 200 gaps is one gap, and an hour without the nightly backup is no evidence.
"Over any link" is what decides a death: a peer is dead when nothing arrives on any link for deadtime. The
per-link rows show which medium is the slow one (a link is marked dead after deadtime on that link alone).

Exit codes: 0 advice given, 1 not enough data (or the daemon refused), 2 usage error, 3 no daemon running.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hbd.cli.argtypes import bounded_int, finite, seconds, socket_path
from hbd.cli.client import ask
from hbd.runtime import control_messages as cm
from hbd.runtime.control import DEFAULT_SOCKET

NOT_ENOUGH_DATA = 1
DEFAULT_FACTOR = 2.0
DEFAULT_MIN_SAMPLES = 1000  # the p99.9 of 1000 gaps rests on one gap; fewer is a guess
DEFAULT_MIN_PERIOD_S = 3600.0
MIN_DEADTIME_KEEPALIVES = 4
WARN_P999_FACTOR = 1.5
MIN_WARNTIME_KEEPALIVES = 2
ANY_LINK = "any"
QUANTILE = 0.999
ADVICE_SCHEMA = 1  # of `hbd advise --json`


@dataclass(frozen=True)
class Series:
    """The gaps between heartbeats from one peer on one link (or over any link), in ms."""

    node: str
    link: str
    count: int
    max_ms: float
    p999_ms: float
    mean_ms: float
    late: int


@dataclass
class Advice:
    ok: bool
    reasons: list[str]
    node: str
    period_s: float
    current: dict[str, int]
    recommended: dict[str, int] | None
    worst: Series | None = None
    p999: Series | None = None
    series: list[Series] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"schema": ADVICE_SCHEMA, **asdict(self)}


def quantile_upper_ms(bounds_s: list[float], counts: list[int], max_s: float, q: float = QUANTILE) -> float:
    """An upper bound of the q-quantile: the upper bound of the bucket holding it, capped by the longest gap.

    counts has one more entry than bounds_s: the last bucket (+Inf) is bounded by max_s itself."""
    total = sum(counts)
    if total == 0:
        return 0.0
    rank = math.ceil(q * total)
    running = 0
    for i, count in enumerate(counts):
        running += count
        if running >= rank:
            upper = bounds_s[i] if i < len(bounds_s) else max_s
            return min(upper, max_s) * 1000
    return max_s * 1000


def series_of(entry: dict[str, Any]) -> Series:
    count = int(entry["count"])
    return Series(node=str(entry["node"]), link=str(entry["link"]), count=count,
                  max_ms=round(float(entry["max_s"]) * 1000, 3),
                  p999_ms=round(quantile_upper_ms(entry["bounds_s"], entry["counts"], float(entry["max_s"])), 3),
                  mean_ms=round(float(entry["sum_s"]) * 1000 / count, 3) if count else 0.0,
                  late=int(entry.get("late", 0)))


def round_up_ms(value: float) -> int:
    step = 10 if value < 1000 else 100 if value < 10000 else 1000
    return int(math.ceil(value / step - 1e-9) * step)


def advise(snapshot: dict[str, Any], peers: list[str], now_wall: float, *, factor: float = DEFAULT_FACTOR,
           min_samples: int = DEFAULT_MIN_SAMPLES, min_period_s: float = DEFAULT_MIN_PERIOD_S) -> Advice:
    """The advice for one daemon's intervals snapshot; `peers`: the configured nodes other than this one."""
    keepalive = int(snapshot["keepalive_ms"])
    current = {"keepalive_ms": keepalive, "warntime_ms": int(snapshot["warntime_ms"]),
               "deadtime_ms": int(snapshot["deadtime_ms"])}
    series = [series_of(e) for e in snapshot["intervals"]]
    period = max(0.0, now_wall - float(snapshot["since_wall"]))
    advice = Advice(ok=False, reasons=[], node=str(snapshot["node"]), period_s=round(period, 1), current=current,
                    recommended=None, series=series)
    over_any = {s.node: s for s in series if s.link == ANY_LINK}
    for peer in sorted(set(peers) | set(over_any)):
        got = over_any[peer].count if peer in over_any else 0
        if got < min_samples:
            more_s = (min_samples - got) * keepalive / 1000
            advice.reasons.append(f"{peer}: {got} heartbeat intervals recorded over any link, {min_samples} "
                                  f"needed (about {more_s / 60:.0f} more minutes at keepalive {keepalive} ms)")
    if not over_any and not advice.reasons:
        advice.reasons.append("no heartbeat intervals recorded from any peer yet")
    if period < min_period_s:
        advice.reasons.append(f"the daemon has run {period:.0f} s, {min_period_s:.0f} s needed: the evidence must "
                              "cover the busy hours (backups, batch jobs) that stretch heartbeat gaps")
    if advice.reasons:
        return advice
    worst = max(over_any.values(), key=lambda s: s.max_ms)
    p999 = max(over_any.values(), key=lambda s: s.p999_ms)
    deadtime = round_up_ms(max(factor * worst.max_ms, MIN_DEADTIME_KEEPALIVES * keepalive))
    warntime = round_up_ms(max(WARN_P999_FACTOR * p999.p999_ms, MIN_WARNTIME_KEEPALIVES * keepalive))
    warntime = max(keepalive, min(warntime, deadtime - keepalive))
    advice.ok, advice.worst, advice.p999 = True, worst, p999
    advice.recommended = {"keepalive_ms": keepalive, "warntime_ms": warntime, "deadtime_ms": deadtime}
    return advice


def format_advice(advice: Advice, factor: float) -> str:
    cur = advice.current
    lines = [f"heartbeat intervals seen by {advice.node} over {advice.period_s / 3600:.1f} h "
             f"(keepalive {cur['keepalive_ms']} ms, warntime {cur['warntime_ms']} ms, "
             f"deadtime {cur['deadtime_ms']} ms):",
             f"  {'peer':<12} {'link':<10} {'samples':>9} {'mean ms':>9} {'p99.9 ms':>9} {'max ms':>9} "
             f"{'late':>6}"]
    for s in advice.series:
        lines.append(f"  {s.node:<12} {s.link:<10} {s.count:>9} {s.mean_ms:>9.1f} {'<=' + format(s.p999_ms, '.0f'):>9}"
                     f" {s.max_ms:>9.1f} {s.late:>6}")
    if not advice.series:
        lines.append("  (none)")
    if not advice.ok:
        lines.append("no advice: not enough data")
        lines += [f"  {r}" for r in advice.reasons]
        return "\n".join(lines)
    rec, worst, p999 = advice.recommended, advice.worst, advice.p999
    assert rec is not None and worst is not None and p999 is not None
    lines += [
        "recommended (ha.cf):",
        f"  keepalive {rec['keepalive_ms']}ms   (unchanged: the evidence was measured at it)",
        f"  warntime  {rec['warntime_ms']}ms   (>= {WARN_P999_FACTOR:g} x p99.9 {p999.p999_ms:.0f} ms from "
        f"{p999.node}, >= {MIN_WARNTIME_KEEPALIVES} x keepalive, < deadtime)",
        f"  deadtime  {rec['deadtime_ms']}ms   (>= {factor:g} x the longest gap {worst.max_ms:.0f} ms from "
        f"{worst.node} over any link, >= {MIN_DEADTIME_KEEPALIVES} x keepalive)",
    ]
    if rec["deadtime_ms"] > cur["deadtime_ms"]:
        lines.append(f"the current deadtime {cur['deadtime_ms']} ms leaves less than {factor:g} x margin over a gap "
                     "already seen: a false failover is possible")
    slow = [s for s in advice.series if s.link != ANY_LINK and s.max_ms >= rec["deadtime_ms"]]
    for s in slow:
        lines.append(f"link {s.link} from {s.node}: a gap of {s.max_ms:.0f} ms; that link alone would be marked dead")
    lines.append("apply the same values on every node (each node judges its peer by the peer's deadtime), then "
                 "`hbd reload`; see `hbd advise --help` for the rule")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hbd advise", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="recommend keepalive / warntime / deadtime from the heartbeat intervals the running daemon\n"
                    "has measured, with the evidence (per peer and link: samples, mean, p99.9, longest gap)",
        epilog="rule: keepalive unchanged; deadtime >= FACTOR x the longest gap over any link (and >= 4 x "
               "keepalive);\nwarntime >= 1.5 x p99.9 gap (and >= 2 x keepalive), below deadtime; rounded up.\n"
               "exit codes: 0 advice given, 1 not enough data (the reasons are printed), 2 usage error, "
               "3 no daemon running")
    p.add_argument("--factor", type=finite(1.5, 100.0), default=DEFAULT_FACTOR,
                   help=f"deadtime margin over the longest gap (default {DEFAULT_FACTOR:g}, at least 1.5)")
    p.add_argument("--min-samples", type=bounded_int(1, 10**9), default=DEFAULT_MIN_SAMPLES,
                   help=f"gaps needed from every peer over any link (default {DEFAULT_MIN_SAMPLES})")
    p.add_argument("--min-period", type=finite(0.0, 365 * 86400.0), default=DEFAULT_MIN_PERIOD_S, metavar="SECONDS",
                   help=f"how long the daemon must have run (default {DEFAULT_MIN_PERIOD_S:g} s)")
    p.add_argument("--json", action="store_true", help="print the advice and the evidence as one JSON object")
    p.add_argument("--socket", type=socket_path, default=str(DEFAULT_SOCKET), help="control socket path")
    p.add_argument("--timeout", type=seconds, default=10.0, help="seconds to wait for the daemon")
    return p


def _request(args: argparse.Namespace, cmd: str) -> dict[str, Any] | int:
    answer = ask("hbd advise", Path(args.socket), cm.decode({"cmd": cmd}), args.timeout)
    if isinstance(answer, int):
        return answer
    if not answer.get("ok") or cmd not in answer:
        print(f"hbd advise: the daemon did not answer '{cmd}': {answer.get('text') or answer.get('error')}",
              file=sys.stderr)
        return 1
    return answer[cmd]  # type: ignore[no-any-return]


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    snapshot = _request(args, "intervals")
    if isinstance(snapshot, int):
        return snapshot
    st = _request(args, "status")
    if isinstance(st, int):
        return st
    peers = [n["name"] for n in st["nodes"] if not n["local"]]
    advice = advise(snapshot, peers, time.time(), factor=args.factor, min_samples=args.min_samples,
                    min_period_s=args.min_period)
    print(json.dumps(advice.as_dict(), indent=2) if args.json else format_advice(advice, args.factor))
    return 0 if advice.ok else NOT_ENOUGH_DATA
