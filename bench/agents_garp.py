"""Figure: time from "start IPaddr2" to the first gratuitous ARP on the wire, seen by the lab's client.

Each round starts 192.0.2.50/24 on n1 with `python -m hbd.agents --json` (the start time is taken in
the agent's process just before the call, so interpreter start-up is not counted), captures ARP in
the client namespace, then stops the address again. Run with the duplicate probe (default 200 ms)
and without it (`--arp-probe-ms 0`).
"""
from __future__ import annotations

import json
import statistics
import sys

from hbd.lab import Lab

from agents_common import rounds_or_none  # bench/ is the script's own directory
from hbd.lab.probes import ArpCapture

VIP = "192.0.2.50"
AGENTS = [sys.executable, "-m", "hbd.agents", "--json"]


def one_round(lab: Lab, options: list[str], n1_mac: str) -> tuple[float, float]:
    """(start call -> first gratuitous ARP at the client, duration of the start call), in seconds."""
    with ArpCapture(lab) as capture:
        out = lab.exec("n1", [*AGENTS, *options, "IPaddr2", f"{VIP}/24/eth0", "start"], timeout=30).stdout
        events = [e for e in capture.wait_gratuitous(VIP, count=1, timeout=5) if e.hwsrc == n1_mac]
    lab.exec("n1", [*AGENTS, "IPaddr2", f"{VIP}/24/eth0", "stop"], timeout=30)
    result = json.loads(out.splitlines()[-1])
    if result["outcome"] != "running" or not events:
        raise SystemExit(f"round failed: {result} / {len(events)} ARP frames")
    return events[0].t - result["t_call"], result["t_done"] - result["t_call"]


def main(argv: list[str] | None = None) -> int:
    rounds = rounds_or_none(argv, __doc__ or "", "agents_garp")
    if rounds is None:
        return 2
    with Lab.up(nodes=2, media=2) as lab:
        n1_mac = json.loads(lab.exec("n1", ["ip", "-j", "link", "show", "dev", "eth0"]).stdout)[0]["address"]
        print(f"start IPaddr2 -> first gratuitous ARP at the client, {rounds} rounds")
        for label, options in (("probe 200 ms (default)", []), ("probe off", ["--arp-probe-ms", "0"])):
            firsts, calls = zip(*(one_round(lab, options, n1_mac) for _ in range(rounds)))
            ms = sorted(1000 * f for f in firsts)
            print(f"  {label:<24} first GARP: median {statistics.median(ms):6.1f} ms  max {ms[-1]:6.1f} ms   "
                  f"start call: median {1000 * statistics.median(calls):6.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
