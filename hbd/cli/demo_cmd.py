"""`hbd demo` (`make demo`): a two-node hbd cluster in network namespaces on this machine, with a failover.

It builds a lab (two nodes, two heartbeat media, a client), writes ha.cf, authkeys and a haresources
line with a VIP group (IPaddr2 + a small service) on both nodes, starts hbd on both, shows `hbd status`,
powers off the node running the group, shows the VIP answering from the other node with the measured
outage, and tears everything down (also on Ctrl-C or an error). Needs root; takes about half a minute.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from hbd.errors import LabError

KEEPALIVE_MS, DEADTIME_MS, INITDEAD_MS = 200, 1000, 2000


def say(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="hbd demo", description=__doc__.split("\n")[0])
    parser.parse_args(argv)
    if os.geteuid() != 0:
        print("hbd demo: needs root (network namespaces, addresses, mounts)", file=sys.stderr)
        return 1
    from hbd.lab import Lab
    from hbd.lab.hbd_cluster import ClusterSettings, HbdCluster
    from hbd.lab.probes import VipProbe

    settings = ClusterSettings(keepalive_ms=KEEPALIVE_MS, deadtime_ms=DEADTIME_MS, initdead_ms=INITDEAD_MS)
    say("building the lab: nodes n1 and n2 (two heartbeat links each) and a client")
    lab = Lab.up(nodes=2, media=2)
    cluster = HbdCluster(lab, settings)
    try:
        cluster.write_config()
        print(f"haresources on both nodes:  {settings.haresources().strip()}")
        print(f"ha.cf timing: keepalive {KEEPALIVE_MS} ms, deadtime {DEADTIME_MS} ms, initdead {INITDEAD_MS} ms")
        say("starting hbd on n1 and n2")
        started = time.monotonic()
        for node in lab.nodes:
            cluster.start(node)
        cluster.wait_owner("n1", timeout=30)
        print(f"n1 runs the group {time.monotonic() - started:.1f} s after start")
        say("hbd status on n2")
        print(cluster.cli("n2", ["hbd", "status"]).stdout.rstrip())
        probe = VipProbe(lab, settings.vip, interval=0.01, timeout=0.05).start()
        try:
            if not probe.wait_for("n1", 10):
                raise LabError(f"the VIP {settings.vip} does not answer from n1")
            print(f"\nclient: {settings.vip} answers from {probe.current()}")
            cluster.wait_configured_deadtime("n2", "n1")  # daemons advertise deadtime + 2 s for their first 5 s
            say("powering off n1 (every process killed, links down)")
            cluster.power_off("n1")
            off = time.monotonic()
            if not probe.wait_for("n2", 15):
                raise LabError(f"the VIP did not come back on n2\n{cluster.log('n2')[-3000:]}")
            answered = time.monotonic()
        finally:
            probe.stop()
        gaps = [end - begin for begin, end in probe.outages() if end is not None]
        print(f"client: {settings.vip} answers from n2, {answered - off:.2f} s after the power-off "
              f"(outage seen by the client: {max(gaps, default=0.0):.2f} s; deadtime {DEADTIME_MS / 1000:g} s)")
        say("hbd status on n2")
        print(cluster.cli("n2", ["hbd", "status"]).stdout.rstrip())
        say("what n2 logged")
        marks = ("is dead", "Resources being acquired", "Acquiring resource group", "started.")
        for line in cluster.log("n2").splitlines():
            if any(mark in line for mark in marks):
                print(line)
    finally:
        say("tearing down")
        cluster.close()
        lab.down()
    print("done")
    return 0
