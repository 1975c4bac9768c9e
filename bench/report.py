"""Tables of a bench/run_all.py run (median / min / max, ratio hbd / peer, issue 17's targets) and the
generated section of bench/README.md between <!-- bench:begin --> and <!-- bench:end -->."""
from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
PEERS = ("heartbeat", "keepalived")
VARIANTS = {"hbd-before": "hbd before ({label})", "hbd-onfault": "hbd, mlockall(MCL_ONFAULT) (bench/hbd_variant.py)"}
TIMINGS = ("1s/3s", "100ms/500ms", "10ms/50ms")
METRICS = [("power-off outage", "power-loss outage"), ("handover n1->n2", "graceful handover n1 -> n2"),
           ("handover n2->n1", "graceful handover n2 -> n1"), ("detection (power-off to dead)", "detection"),
           ("reaction beyond detection", "reaction beyond detection")]
REFERENCES = [("PostgreSQL failover outage", "bench/takeover_under_load.py"),
              ("false deaths under stress-ng CPU + IO on both cores", "bench/stress_soak.py")]


def _cmd(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine(mode: str, runs: int, idle_window_s: float) -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    versions = {pkg: _cmd(["dpkg-query", "-W", "-f=${Version}", pkg]) or "not installed"
                for pkg in ("heartbeat", "keepalived", "stress-ng")}
    commit = _cmd(["git", "-C", str(Path(__file__).resolve().parent), "rev-parse", "--short", "HEAD"])
    dirty = _cmd(["git", "-C", str(Path(__file__).resolve().parent), "status", "--porcelain", "--", "hbd"])
    return {"mode": mode, "runs": runs, "idle_window_s": idle_window_s,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(), "cpu": cpu,
            "kernel": platform.release(), "python": sys.version.split()[0], "versions": versions,
            "commit": commit + (" + uncommitted changes under hbd/" if dirty else ""),
            "loadavg_start": Path("/proc/loadavg").read_text().split()[:3]}


def _ms(value: float) -> str:
    return f"{value * 1000:.0f}"


def _cell(values: list[float] | None) -> str:
    if not values:
        return "–"
    return f"{_ms(statistics.median(values))} ({_ms(min(values))}–{_ms(max(values))})"


def _ratio(hbd: list[float] | None, peer: list[float] | None) -> str:
    if not hbd or not peer or statistics.median(peer) <= 0:
        return "–"
    return f"{statistics.median(hbd) / statistics.median(peer):.2f}"


def failover_table(cells: list[dict[str, Any]]) -> tuple[str, dict[tuple[str, str, str], list[float]]]:
    data = {(c["daemon"], c["timing"], c["what"]): c["values"] for c in cells if c.get("kind") == "failover"}
    rows = ["| timing | what | hbd | Heartbeat 3.0.6 | keepalived | hbd / Heartbeat | hbd / keepalived | n |",
            "|---|---|---|---|---|---|---|---|"]
    for timing in TIMINGS:
        for key, label in METRICS:
            got = {d: data.get((d, timing, key)) for d in ("hbd", *PEERS)}
            if not any(got.values()):
                continue
            n = "/".join(str(len(v)) if v else "0" for v in got.values())
            rows.append(f"| {timing} | {label} | {_cell(got['hbd'])} | {_cell(got['heartbeat'])} | "
                        f"{_cell(got['keepalived'])} | {_ratio(got['hbd'], got['heartbeat'])} | "
                        f"{_ratio(got['hbd'], got['keepalived'])} | {n} |")
    return "\n".join(rows), data


def idle_table(cells: list[dict[str, Any]]) -> tuple[str, dict[tuple[str, int], list[dict[str, Any]]]]:
    data: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for c in cells:
        if c.get("kind") == "idle":
            data.setdefault((c["daemon"], c["keepalive_ms"]), []).append(c)
    rows = ["| keepalive | daemon | CPU % n1 (holder) / n2 | RSS n1 / n2 | PSS n1 / n2 | processes per node |",
            "|---|---|---|---|---|---|"]
    for keepalive in sorted({k for _, k in data}, reverse=True):
        for daemon in ("hbd-before", "hbd", "hbd-onfault", *PEERS):
            nodes = sorted(data.get((daemon, keepalive), []), key=lambda c: c["node"])
            if not nodes:
                continue
            name = VARIANTS.get(daemon, daemon).format(label=nodes[0].get("label", "?"))
            cpu = " / ".join(f"{n['cpu_pct']:.2f}" for n in nodes)
            rss = " / ".join(f"{n['rss_kib'] / 1024:.1f}" for n in nodes)
            pss = " / ".join(f"{n['pss_kib'] / 1024:.1f}" for n in nodes)
            rows.append(f"| {keepalive} ms | {name} | {cpu} | {rss} MiB | {pss} MiB | {len(nodes[0]['processes'])} |")
    return "\n".join(rows), data


def _median(data: dict[tuple[str, str, str], list[float]], daemon: str, timing: str, key: str) -> float | None:
    values = data.get((daemon, timing, key))
    return statistics.median(values) if values else None


def targets(fdata: dict[tuple[str, str, str], list[float]],
            idata: dict[tuple[str, int], list[dict[str, Any]]]) -> str:
    rows = ["| must show | figure | met |", "|---|---|---|"]

    def add(what: str, figure: str, ok: bool | None) -> None:
        rows.append(f"| {what} | {figure} | {'–' if ok is None else ('met' if ok else 'NOT met')} |")

    reactions = {t: fdata.get(("hbd", t, "reaction beyond detection")) for t in TIMINGS}
    worst = [max(v) for v in reactions.values() if v]
    add("reaction beyond detection ≤ 20 ms at every timing (median; max in brackets)",
        ", ".join(f"{t}: {_ms(statistics.median(v))} ms ({_ms(max(v))})" for t, v in reactions.items() if v),
        all(statistics.median(v) <= 0.020 for v in reactions.values() if v) if worst else None)
    fast = _median(fdata, "hbd", "10ms/50ms", "power-off outage")
    ka = _median(fdata, "keepalived", "100ms/500ms", "power-off outage")
    hb = _median(fdata, "heartbeat", "10ms/50ms", "power-off outage")
    add("power loss at 10 ms / 50 ms: median ≤ 80 ms", f"{_ms(fast)} ms" if fast else "–",
        None if fast is None else fast <= 0.080)
    add("… ≤ 0.25 × keepalived at advert 0.1 s", f"{fast / ka:.2f} ×" if fast and ka else "–",
        None if not (fast and ka) else fast / ka <= 0.25)
    add("… ≤ 0.5 × Heartbeat at 10 ms / 50 ms", f"{fast / hb:.2f} ×" if fast and hb else "–",
        None if not (fast and hb) else fast / hb <= 0.5)
    mid = _median(fdata, "hbd", "100ms/500ms", "power-off outage")
    hbm = _median(fdata, "heartbeat", "100ms/500ms", "power-off outage")
    add("power loss at 100 ms / 500 ms ≤ 0.6 × Heartbeat", f"{mid / hbm:.2f} ×" if mid and hbm else "–",
        None if not (mid and hbm) else mid / hbm <= 0.6)
    hand = [(t, k, statistics.median(v)) for (d, t, k), v in fdata.items() if d == "hbd" and k.startswith("handover")]
    add("graceful handover ≤ 20 ms at every timing (median)",
        ", ".join(f"{t} {k[9:]}: {_ms(m)} ms" for t, k, m in hand), all(m <= 0.020 for *_, m in hand) if hand else None)
    for keepalive in sorted({k for _, k in idata}, reverse=True):
        mine, theirs = idata.get(("hbd", keepalive)), idata.get(("heartbeat", keepalive))
        if mine and theirs:
            a, b = max(n["cpu_pct"] for n in mine), max(n["cpu_pct"] for n in theirs)
            add(f"idle CPU per node ≤ Heartbeat's at keepalive {keepalive} ms (busier node)",
                f"{a:.2f} % vs {b:.2f} %", a <= b)
    for daemon, what in (("hbd", "RSS ≤ 40 MB per node (largest hbd node)"),
                         ("hbd-onfault", "… the same with mlockall(MCL_ONFAULT), not yet in hbd")):
        rss = [n["rss_kib"] for (d, _), nodes in idata.items() if d == daemon for n in nodes]
        if rss:
            add(what, f"{max(rss) / 1024:.1f} MiB", max(rss) / 1024 <= 40)
    return "\n".join(rows)


def render(cells: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    ftable, fdata = failover_table(cells)
    itable, idata = idle_table(cells)
    plans = [c for c in cells if c.get("kind") == "plan"]
    v = meta.get("versions", {})
    lines = [
        f"## hbd beside Heartbeat 3.0.6 and keepalived, one run (`bench/run_all.py`, {meta.get('mode', '?')} mode)",
        "",
        "Generated by `make bench` (`--full`) or `make bench-quick`; edit bench/report.py, not this section.",
        "",
        f"Run: {meta.get('date', '?')}, {meta.get('elapsed_s', '?')} s, commit {meta.get('commit', '?')}; "
        f"{meta.get('cpus', '?')} CPUs ({meta.get('cpu', '?')}), Linux {meta.get('kernel', '?')}, Python "
        f"{meta.get('python', '?')}; Debian heartbeat {v.get('heartbeat', '?')}, keepalived "
        f"{v.get('keepalived', '?')}; load average at the start {' '.join(meta.get('loadavg_start', []))} "
        f"(the machine is shared with other work). Runs per failover cell: {meta.get('runs', '?')}; idle window "
        f"{meta.get('idle_window_s', '?')} s." + (" **Void: the stress flag existed during the run.**"
                                                  if meta.get("stress_seen") else "")
        + (f" Failed: {', '.join(meta['failed'])}." if meta.get("failed") else "")
        + (f" {meta['notes']}" if meta.get("notes") else "")
        + "".join(f" {c['daemon']} {c['timing']}: {c['failed']} failed run(s) retried."
                  for c in cells if c.get("kind") == "failover-runs" and c.get("failed")),
        "",
        "Configs (bench/pairs.py): two lab nodes, two bcast media (eth0, eth1), VIP 192.0.2.50/24 on eth0 with a",
        "small resource.d service. hbd and Heartbeat: the same ha.cf (`keepalive K`, `deadtime D`, `warntime D/2`,",
        "`initdead max(2 D, 1 s)`, `auto_failback on`, `realtime on`) and haresources "
        "`n1 IPaddr2::192.0.2.50/24/eth0 hbdsvc`;",
        "keepalived: one VRRP instance on eth0 (`advert_int` = K, VRRPv3 below 1 s, n1 priority 150, n2 100,",
        "`nopreempt`), its backup declares the master down after 3 adverts + skew (≈ D at these timings).",
        "Handover: hbd-standby / hb_standby all / keepalived's SIGTERM (priority-0 advert). Detection: power-off",
        "to the survivor's death verdict (hbd: its transition time; Heartbeat, keepalived: their log line seen,",
        "polled every 5 ms). Reaction: verdict to the VIP answering the client's TCP probe (every 2 ms).",
        "",
        "Failover, ms: median (min–max); n = runs hbd/Heartbeat/keepalived.",
        "",
        ftable,
        "",
        "Idle, per node (all the daemon's processes; PSS divides shared pages among them).",
        "",
        itable,
        "",
    ]
    if plans:
        lines += ["`hbd test noop start` on a generated cluster.conf (bench/plan_10k.py):", "",
                  "| resources | new process, best of 3 | in process |", "|---|---|---|"]
        lines += [f"| {p['resources']} | {p['new_process_s']:.3f} s | {p['in_process_s']:.3f} s |" for p in plans]
        lines.append("")
    lines += ["Issue 17's targets, from this run:", "", targets(fdata, idata), "",
              "Cells measured by other benches (their own sections below, when they have run):", ""]
    lines += [f"- {what}: `{script}`" for what, script in REFERENCES]
    return "\n".join(lines)


def write_readme(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{BEGIN}\n{section}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        first, _, rest = text.partition("\n\n")  # after the title and its first paragraph
        rest_first, _, rest_tail = rest.partition("\n\n")
        text = f"{first}\n\n{rest_first}\n\n{block}\n\n{rest_tail}"
    path.write_text(text)
