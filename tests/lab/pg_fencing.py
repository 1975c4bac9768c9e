"""The PostgreSQL lab with fencing configured (tests/lab/pg_lab.py, `pg_cluster(form, fencing=True)`), and the
two scenarios that need it:

- node fencing: the lab's power switch (hbd/lab/power_switch.py) as the fence device of both nodes, through
  `fence_hbdlab` (ha.cf: a `stonith_host` line; cluster.conf: `<fence>` methods and a `<fencedevice>`);
- DRBD resource-level fencing: `fencing resource-only;` and `hbd fence-peer` as the fence-peer handler in
  the lab's r0.res (what etc/examples/postgresql/README.md asks for).

Scenarios:
  partition(pg, cut)       every medium of `cut` dropped by the switch's filter (the client's network with
                           them): the holder fences the other node (it fences first: the node holding nothing
                           waits the fence delay), keeps the database; the cut is healed once the other is off
  cut_link_then_power_off  the replication link of the Primary pulled (its handler has the peer's disk
                           outdated over the heartbeat medium left), commits go on, then the Primary loses
                           power: the survivor must not promote its outdated disk; the database stays down
                           until the Primary is back (link restored, booted)
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from daemon_lab import wait_until
from hbd.lab.hbd_cluster import HbdCluster
from hbd.lab.power_switch import PowerSwitch

if TYPE_CHECKING:
    from pg_lab import PgCluster

DRBD_FENCING = '  disk { fencing resource-only; }\n  handlers { fence-peer "hbd fence-peer -t 5"; }\n'
REPLICATION = 1  # medium 1 (eth1) carries DRBD; heartbeats go on over medium 0 (bcast eth0)
REFUSAL = "refusing to promote r0"
WAIT_S = 60.0


def hacf_fencing(switch: PowerSwitch) -> str:
    return f"stonith_host * fence_hbdlab socket={switch.path}\n"


def cluster_fencing(text: str, switch: PowerSwitch, nodes: list[str]) -> str:
    """cluster.conf with a `<fence>` method per node on the lab's switch and the switch as `<fencedevice>`."""
    for i, node in enumerate(nodes, 1):
        old = f'<clusternode name="{node}" nodeid="{i}" votes="1"/>'
        assert old in text, f"{old} not in cluster.conf"
        text = text.replace(old, f'<clusternode name="{node}" nodeid="{i}" votes="1">\n'
                                 f'      <fence><method name="power"><device name="lab-pdu" plug="{node}"/></method>'
                                 f'</fence>\n    </clusternode>')
    devices = f'  <fencedevices>\n    <fencedevice name="lab-pdu" agent="fence_hbdlab" socket="{switch.path}"/>\n' \
              f'  </fencedevices>\n  <rm>'
    assert text.count("  <rm>") == 1
    return text.replace("  <rm>", devices)


def drbd_fencing(cluster: HbdCluster) -> None:
    for node in cluster.lab.nodes:
        res = cluster.lab.path(node, "/etc/drbd.d") / "r0.res"
        text = res.read_text().rstrip()
        assert text.endswith("}"), text
        res.write_text(text[:-1] + DRBD_FENCING + "}\n")


def partition(pg: "PgCluster", cut: str) -> tuple[float, str]:
    """Both media of `cut` dropped; returns (time just before, the node fenced). The holder must be the one that
    fences, and the only one; the cut is healed once the other node was reset (it is up, no daemon running:
    `pg.booted(node)` starts it)."""
    assert pg.switch is not None, "partition needs pg_cluster(form, fencing=True)"
    holder = pg.active()
    loser = pg.other(holder)
    before = len(pg.switch.requests)
    at = time.monotonic()
    pg.lab.cut(cut, how="filter")
    try:  # the agent's reboot: off, then on again (a node freshly booted, no daemon running)
        wait_until(lambda: ("on", loser) in pg.switch.requests[before:], WAIT_S, f"{holder} fences {loser}")
        with pg.switch.lock:  # held by the switch while it boots the node (the request is recorded first)
            pass
    finally:
        pg.lab.restore(cut)
    fenced = [plug for action, plug in pg.switch.requests[before:] if action == "off"]
    assert fenced == [loser], f"fence requests during the partition: {fenced} (expected [{loser!r}])"
    assert loser not in pg.lab.state["powered_off"]
    return at, loser


def daemon_log(pg: "PgCluster", node: str) -> str:
    """The daemon's log: its logfile (ha.cf), else its stderr (the cluster.conf daemon in the lab)."""
    return pg.cluster.log(node) or pg.cluster.stderr(node)


def refusal(text: str) -> str | None:
    """The first line that refuses to promote the disk: hbd's guard (an Outdated disk), or DRBD's own (-6) when
    the peer's disk is not known to be outdated (the handler got no answer)."""
    return next((ln.strip() for ln in text.splitlines() if REFUSAL in ln or "Refusing to be Primary" in ln), None)


def dstate(pg: "PgCluster", node: str) -> str:
    return str(pg.lab.exec(node, ["drbdadm", "dstate", "r0"]).stdout.strip())


@dataclass(frozen=True)
class Refused:
    survivor: str
    disk: str                # the survivor's `drbdadm dstate` at the power-off
    waited_s: float          # power-off -> the survivor's refusal in its log
    failures: int            # statements of the client that failed while the database was down
    acks_after: int          # commits acknowledged after the power-off before the Primary came back (must be 0)
    cluster_log_line: str    # the survivor's refusal, as logged


def cut_link_then_power_off(pg: "PgCluster", primary: str) -> tuple[float, Refused]:
    """The replication link of `primary` pulled; commits go on there with the peer's disk outdated; then the
    Primary loses power. The survivor must not promote: its refusal is logged, its disk stays Secondary and
    nothing is mounted there; the client gets no acknowledgement (nothing is served from old data). Returns
    the time just before the power-off and what was seen; the Primary is still off."""
    survivor = pg.other(primary)
    pg.lab.cut(primary, REPLICATION)
    # Outdated by the handler (hbd fence-peer, over the heartbeat medium left), in both forms.
    wait_until(lambda: dstate(pg, survivor).startswith("Outdated/"), WAIT_S, f"{survivor}'s disk outdated")
    pg.wait_acks(20, after=time.monotonic())  # commits acknowledged on the Primary alone, after the cut
    disk = dstate(pg, survivor)
    before = len(daemon_log(pg, survivor))
    requests = len(pg.switch.requests) if pg.switch is not None else 0
    at = time.monotonic()
    pg.cluster.power_off(primary)
    waited = wait_until(lambda: refusal(daemon_log(pg, survivor)[before:]) is not None, WAIT_S,
                      f"{survivor} refuses its disk")
    if pg.switch is not None:  # the survivor fenced the Primary first (off, on: it is up again, nothing running)
        wait_until(lambda: ("on", primary) in pg.switch.requests[requests:], WAIT_S, f"{survivor} fences {primary}")
        with pg.switch.lock:
            pass
    line = refusal(daemon_log(pg, survivor)[before:]) or ""
    role = pg.lab.exec(survivor, ["drbdadm", "role", "r0"]).stdout.strip()
    assert role.startswith("Secondary"), f"{survivor} promoted its disk after the link cut: {role}"
    assert pg.mounted_on() == [], f"the file system is mounted on {pg.mounted_on()} with the Primary off"
    j = pg.journal()
    acks = j.acks_after(at + 3.5)  # a commit sent before the power-off may be answered within tcp_user_timeout
    assert acks == 0, f"{acks} commits acknowledged with the Primary off (served from an outdated disk)"
    failures = sum(1 for e in j.error_times if e >= at)
    return at, Refused(survivor, disk, waited, failures, acks, line.strip())


def bring_back(pg: "PgCluster", primary: str) -> None:
    """The replication link restored and the Primary booted (or, reset by the survivor's fence device, its
    daemon started): DRBD reconnects and resyncs, the database runs again (on either node: the cluster
    decides)."""
    pg.lab.restore(primary, REPLICATION)
    if primary in pg.lab.state["powered_off"]:
        pg.boot(primary)
    else:  # the survivor's fence device rebooted it already: up, nothing running
        pg.booted(primary)
