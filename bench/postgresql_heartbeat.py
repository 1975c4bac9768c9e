"""PostgreSQL behind the VIP under Debian's Heartbeat 3.0.6: the same haresources, init script, lab and client
as the haresources form of bench/postgresql_failover.py (tests/lab/pg_lab.py, pg_rounds.py), with Heartbeat
in place of hbd on both nodes, for the scenarios that apply to Heartbeat v1:

  move        hb_standby all on the holder -> the other node
  stop hbd    graceful stop of Heartbeat on the holder (SIGTERM: it hands its resources over), then started
  power-off   of the holder -> the other node; booted, Heartbeat started again

Not run: a killed postmaster (Heartbeat v1 does not check resources: the database would stay down), kill -9
of Heartbeat (its peer takes over a group whose address and disk are still in use; DRBD refuses the second
Primary), and the fencing scenarios (no resource-level fencing handler of Heartbeat's own in this lab).

Heartbeat runs in a mount namespace of its own inside each node (tests/lab/heartbeat_peer.py), with the
database's mount point shared with the node, so that the invariant watcher, the checks of the rows and the
server's log see what Heartbeat's Filesystem resource mounted. ha.cf is the example's without hbd's
`monitor` lines, logging to /var/log/hbd/ha-log; hbd's drbddisk script (resource.d/) stands in for the one
drbd-utils would install, calling the lab's drbdadm emulator.

    sudo .venv/bin/python bench/postgresql_heartbeat.py --rounds 10 --results /var/tmp/pg-heartbeat.jsonl
"""
from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "lab"))

import pg_config as cfg  # noqa: E402
from heartbeat_peer import LOGFILE, HeartbeatPeer, install_ha_d_scripts, start_heartbeat  # noqa: E402
from daemon_lab import wait_until  # noqa: E402
from pg_lab import PgCluster, pg_cluster, WAIT_S  # noqa: E402
from pg_rounds import plain_round  # noqa: E402

from hbd.lab.nodes import base_env  # noqa: E402

SCENARIOS = ("move", "stop hbd", "power-off")  # pg_rounds.py's names; "stop hbd" stops Heartbeat here
HB_STANDBY = "/usr/share/heartbeat/hb_standby"


class HeartbeatPg(PgCluster):
    """The database's cluster manager is Heartbeat 3.0.6: started, stopped and asked as Heartbeat is."""

    peers: dict[str, HeartbeatPeer]

    def prepare(self) -> None:
        self.peers = {}
        self.started_at: dict[str, int] = {}  # node -> the length of its log when Heartbeat last started
        for node in self.lab.nodes:
            ha_d = self.lab.path(node, "/etc/ha.d")
            install_ha_d_scripts(ha_d)
            # Heartbeat runs its resource scripts with an environment of its own: the wrapper names the lab's
            # (drbdadm emulator first on PATH) and the Python that has hbd.
            env = base_env(self.lab.layout, node, None)
            exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
            drbddisk = ha_d / "resource.d" / "drbddisk"
            drbddisk.write_text(f"#!/bin/sh\n{exports}exec {shlex.quote(sys.executable)} "
                                f"{shlex.quote(str(REPO / 'resource.d' / 'drbddisk'))} \"$@\"\n")
            drbddisk.chmod(0o755)
            hacf = [ln for ln in cfg.hacf().splitlines() if not ln.startswith("monitor ")]
            text = "\n".join(hacf).replace("logfile /var/log/hbd/hbd.log", f"logfile {LOGFILE}") + "\n"
            (ha_d / "ha.cf").write_text(text)

    def log(self, node: str) -> str:
        peer = self.peers.get(node)
        return peer.log() if peer is not None else ""

    def start_hbd(self, node: str) -> None:
        # the mount point's parent (a mount of the lab's): Filesystem takes a mount on the point itself for its own
        self.peers[node] = start_heartbeat(self.lab, node, shared=(str(Path(cfg.MOUNT).parent),))
        self.started_at[node] = len(self.log(node))

    def status(self, node: str) -> dict[str, Any] | None:
        return None  # Heartbeat has no `hbd status`: the waits below read its log and the node

    def serving_here(self, node: str) -> bool:
        if node in self.lab.state["powered_off"] or self.lab.exec(node, ["mountpoint", "-q", cfg.MOUNT],
                                                                  check=False).returncode != 0:
            return False
        return self.lab.exec(node, ["/usr/lib/postgresql/15/bin/pg_isready", "-q", "-h", cfg.SOCKDIR],
                             check=False).returncode == 0

    def acquired(self, node: str) -> bool:
        return "Initial resource acquisition complete" in self.log(node)[self.started_at.get(node, 0):]

    def wait_started(self) -> None:
        wait_until(lambda: self.serving_here("n1") and all(self.acquired(n) for n in self.lab.nodes), WAIT_S,
                   "the database on n1, both Heartbeats up", log=self.log)
        time.sleep(6)  # both out of Heartbeat's start-up deadtime (deadtime + 2 s for the first 5 s)

    def wait_serving(self, node: str, timeout: float = WAIT_S) -> None:
        wait_until(lambda: self.serving_here(node), timeout, f"the database served on {node}", log=self.log)

    def wait_joined(self, node: str, holder: str, timeout: float = WAIT_S) -> None:
        wait_until(lambda: self.acquired(node) and self.serving_here(holder), timeout,
                   f"Heartbeat on {node} up beside {holder}", log=self.log)
        time.sleep(3)  # Heartbeat refuses a standby while its start-up is still settling

    def move(self, node: str) -> float:
        at = time.monotonic()
        done = self.peers[node].tool([HB_STANDBY, "all"], timeout=60)
        assert done.returncode == 0, f"hb_standby on {node}: {done.stdout}{done.stderr}"
        # hb_standby only asks (hbd-standby returns once the move is done): the move is over when the other
        # node serves the database
        self.wait_serving(self.other(node))
        return at

    def stop_hbd(self, node: str) -> float:
        at = time.monotonic()
        self.peers.pop(node).stop()  # SIGTERM: Heartbeat gives its resources to the peer, then exits
        return at

    def power_off(self, node: str) -> float:
        at = time.monotonic()
        self.lab.power_off(node)
        peer = self.peers.pop(node, None)
        if peer is not None:
            peer.proc.wait(timeout=10)
        self.event_done = time.monotonic()
        return at

    def close(self) -> None:
        for peer in self.peers.values():
            peer.stop()
        self.peers.clear()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="events of each scenario (default 3)")
    ap.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    ap.add_argument("--max-seconds", type=float, default=1800, help="start no round after this many seconds")
    ap.add_argument("--results", type=Path, default=None, help="JSON lines, appended to (default: a new file)")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    out = args.results or Path(f"/var/tmp/postgresql_heartbeat.{time.strftime('%Y%m%dT%H%M%S')}.jsonl")
    out.touch()
    print(f"results: {out}", flush=True)
    t0 = time.monotonic()
    with pg_cluster("haresources", kind=HeartbeatPg, workload_s=args.max_seconds + 600) as pg:
        assert isinstance(pg, HeartbeatPg)
        for r in range(args.rounds):
            if time.monotonic() - t0 > args.max_seconds:
                break
            try:
                done = plain_round(pg, set(args.scenarios))  # the rounds of pg_rounds.py, Heartbeat's way
            except AssertionError:
                for node in pg.lab.nodes:
                    print(f"--- Heartbeat's log on {node}, the end:\n{pg.log(node)[-5000:]}", file=sys.stderr)
                raise
            for e in done:
                with out.open("a") as f:
                    f.write(json.dumps({"manager": "heartbeat", "round": r + 1, **e}) + "\n")
                print(f"heartbeat round {r + 1} {e['scenario']}: on {e['node']}, outage {e['outage_s']:.2f} s, "
                      f"lost {e['lost']}, {e['log']}", flush=True)
    events: dict[str, list[dict[str, Any]]] = {}
    for line in out.read_text().splitlines():
        e = json.loads(line)
        events.setdefault(e["scenario"], []).append(e)
    print(f"\nall events in {out}:\n| scenario | events | outage median / max | lost acknowledged commits |\n|---|---|---|---|")
    for scenario in SCENARIOS:
        es = events.get(scenario, [])
        if es:
            outs = [e["outage_s"] for e in es]
            print(f"| {scenario} | {len(es)} | {statistics.median(outs):.2f} s / {max(outs):.2f} s | "
                  f"{sum(e['lost'] for e in es)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
