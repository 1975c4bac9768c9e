"""Flood of bad-HMAC and garbage datagrams on eth0 (the only medium, or one of two) from the lab's client,
keepalive 100 ms / deadtime 500 ms, two daemons (hbd, or Debian's Heartbeat 3.0.6): per run, the rate the
flooder reached, what the nodes' kernels took and dropped (full receive queues), and the false deaths
("node ...: is dead", "No local heartbeat") both nodes logged. A fresh lab per run.

    sudo .venv/bin/python bench/flood.py --impl hbd heartbeat --media 1 2 --seconds 20 --procs 1
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "lab"))

from flood_lab import flood, false_deaths  # noqa: E402
from heartbeat_peer import LOGFILE, install_ha_d_scripts, start_heartbeat  # noqa: E402

from hbd.lab import Lab  # noqa: E402
from hbd.lab.cleanup import traces  # noqa: E402
from hbd.lab.hbd_cluster import ClusterSettings, HbdCluster  # noqa: E402

# Heartbeat sets no realtime priority in the mixed tests either: both run with `realtime on` here
SETTINGS = ClusterSettings(keepalive_ms=100, deadtime_ms=500, initdead_ms=2000)


def media_line(media: int) -> str:
    return "bcast " + " ".join(f"eth{m}" for m in range(media))


def start(lab: Lab, impl: str) -> tuple[HbdCluster, list, callable]:
    cluster = HbdCluster(lab, SETTINGS)
    cluster.write_config()
    for node in lab.nodes:
        hacf = lab.path(node, "/etc/ha.d") / "ha.cf"
        hacf.write_text(hacf.read_text().replace("bcast eth0 eth1", media_line(lab.media)))
    peers = []
    if impl == "hbd":
        cluster.start("n1")
        cluster.start("n2")
        cluster.wait_configured_deadtime("n2", "n1")
        cluster.wait_configured_deadtime("n1", "n2")
        return cluster, peers, cluster.log
    for node in lab.nodes:
        ha_d = lab.path(node, "/etc/ha.d")
        install_ha_d_scripts(ha_d)
        cluster.write_config([node])
        hacf = ha_d / "ha.cf"
        hacf.write_text(hacf.read_text().replace("logfile /var/log/hbd/hbd.log", f"logfile {LOGFILE}")
                        .replace("debugfile /var/log/hbd/hbd.debug\n", "")
                        .replace("bcast eth0 eth1", media_line(lab.media)))
    peers = [start_heartbeat(lab, node) for node in lab.nodes]
    for peer in peers:
        peer.wait_log("Initial resource acquisition complete", timeout=60)
    time.sleep(6)  # out of the start-up deadtime (deadtime + 2 s for 5 s)
    logs = {p.node: p for p in peers}
    return cluster, peers, lambda node: logs[node].log()


def one_run(impl: str, media: int, seconds: float, procs: int, realtime: bool = True) -> dict:
    lab = Lab.up(nodes=2, media=media)
    cluster = peers = None
    try:
        cluster, peers, log = start(lab, impl)
        offsets = {n: len(log(n)) for n in lab.nodes}
        result = flood(lab, seconds, procs, realtime)
        time.sleep(1.0)  # a death found just after the flood still counts
        deaths = {n: false_deaths(log(n)[offsets[n]:]) for n in lab.nodes}
        running = all(cluster.running(n) for n in lab.nodes) if impl == "hbd" else \
            all(p.proc.poll() is None for p in peers)
        return {"impl": impl, "media": media, "procs": procs, "rate": result.rate, "sent": result.sent,
                "received": result.received, "queue_drops": result.queue_drops,
                "false_deaths": sum(len(v) for v in deaths.values()), "deaths": deaths, "running": running}
    finally:
        if cluster is not None:
            cluster.close()
        for peer in peers or []:
            peer.stop()
        lab.down()
        left = traces(lab.name)
        assert not left, left


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", nargs="+", choices=("hbd", "heartbeat"), default=["hbd"])
    parser.add_argument("--media", nargs="+", type=int, choices=(1, 2), default=[2, 1])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--procs", nargs="+", type=int, default=[1], help="flooder processes")
    parser.add_argument("--no-realtime", action="store_true",
                        help="flooder at normal priority (it then gets only the CPU the daemons leave)")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (the lab)", file=sys.stderr)
        return 2
    print("impl       media procs  sent/s   n1 took/s  n1 queue drops/s  false deaths  daemons running")
    for impl in args.impl:
        for media in args.media:
            for procs in args.procs:
                for _ in range(args.runs):
                    r = one_run(impl, media, args.seconds, procs, not args.no_realtime)
                    print(f"{impl:10} {media:5} {procs:5} {r['rate']:8.0f} {r['received']['n1'] / args.seconds:10.0f}"
                          f" {r['queue_drops']['n1'] / args.seconds:17.0f} {r['false_deaths']:13}  {r['running']}",
                          flush=True)
                    for node, lines in r["deaths"].items():
                        for line in lines[:5]:
                            print(f"    {node}: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
