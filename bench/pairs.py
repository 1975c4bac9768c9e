"""Two-node clusters of hbd, Debian's Heartbeat 3.0.6 and keepalived in the lab, behind one interface, so that
each benchmark measures every daemon the same way (same lab, same VIP, same client probe).

A pair: `start()` (n1 ends up holding the VIP), `handover(giver)` (the graceful move: hbd-standby,
hb_standby, keepalived's SIGTERM with its priority-0 advertisement), `power_off(node)`, `detected(observer,
peer, after)` (the monotonic time the observer declared the peer dead, None if not seen), `pids(node)`
(the daemon's processes, for CPU and RSS) and `close()`. Timing: keepalive/deadtime in ms; keepalived's
advert_int is the keepalive (its backup takes over after 3 adverts + skew, about the deadtime).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "lab"))

from hbd.errors import LabError  # noqa: E402
from hbd.lab import Lab  # noqa: E402
from hbd.lab.hbd_cluster import ClusterSettings, HbdCluster  # noqa: E402

KEEPALIVED = Path("/usr/sbin/keepalived")
HEARTBEAT = Path("/usr/libexec/heartbeat/heartbeat")


def session_pids(lab: Lab, node: str, leader: int) -> list[int]:
    """The node's processes in the session of `leader` (lab.spawn starts each daemon in a new session)."""
    found = []
    for pid in lab.processes(node):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == leader:
            found.append(pid)
    return found


def wait(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise SystemExit(f"timed out waiting for {what}")


def log_seen(path: Path, text: str, after: int) -> bool:
    try:
        return text in path.read_text(errors="replace")[after:]
    except OSError:
        return False


class HbdPair:
    name = "hbd"

    def __init__(self, lab: Lab, keepalive_ms: int, deadtime_ms: int):
        self.lab = lab
        self.settings = ClusterSettings(keepalive_ms=keepalive_ms, deadtime_ms=deadtime_ms,
                                        initdead_ms=max(2 * deadtime_ms, 1000))
        self.cluster = HbdCluster(lab, self.settings)

    def start(self) -> None:
        self.cluster.write_config()
        self.cluster.start("n1")
        self.cluster.start("n2")
        self.cluster.wait_owner("n1", timeout=30)
        self.cluster.wait_owner("n1", timeout=10, ask="n2")
        self.cluster.wait_configured_deadtime("n2", "n1")  # not the start-up deadtime (deadtime + 2 s)
        self.cluster.wait_configured_deadtime("n1", "n2")

    def handover(self, giver: str) -> None:
        done = self.cluster.cli(giver, ["hbd-standby"])
        if done.returncode != 0:
            raise SystemExit(f"hbd-standby on {giver} failed: {done.stderr}")

    def power_off(self, node: str) -> None:
        self.cluster.power_off(node)

    def detected(self, observer: str, peer: str, after: float) -> float | None:
        st = self.cluster.status(observer)
        if st is None:
            return None
        return next((t["monotonic"] for t in st["transitions"]
                     if t["text"] == f"node {peer}: dead" and t["monotonic"] >= after), None)

    def pids(self, node: str) -> list[int]:
        proc = self.cluster.procs[node]
        return session_pids(self.lab, node, proc.pid)

    def close(self) -> None:
        self.cluster.close()


class VariantCluster(HbdCluster):
    """An HbdCluster whose daemons start through bench/hbd_variant.py (another tree, MCL_ONFAULT)."""

    def __init__(self, lab: Lab, settings: ClusterSettings, variant: list[str]):
        super().__init__(lab, settings)
        self.variant = variant

    def start(self, node: str, extra: list[str] | None = None) -> subprocess.Popen:  # type: ignore[type-arg]
        with open(self.lab.path(node, "/var/log/hbd") / "hbd.stderr", "ab") as err:
            proc = self.lab.spawn(node, [sys.executable, str(Path(__file__).resolve().parent / "hbd_variant.py"),
                                         *self.variant, "--", "-f", "--node", node, *(extra or [])],
                                  stdout=err, stderr=subprocess.STDOUT)
        self.procs[node] = proc
        return proc


class HbdVariantPair(HbdPair):
    """hbd started another way, for idle figures only: `tree` (an older hbd package, e.g. before a change)
    and/or `onfault`. An older daemon's status may differ: start() falls back to waiting for its log."""

    def __init__(self, lab: Lab, keepalive_ms: int, deadtime_ms: int, tree: str | None = None,
                 onfault: bool = False):
        super().__init__(lab, keepalive_ms, deadtime_ms)
        variant = (["--tree", tree] if tree else []) + (["--onfault"] if onfault else [])
        self.cluster = VariantCluster(lab, self.settings, variant)

    def start(self) -> None:
        try:
            super().start()
        except LabError:  # an older status shape: wait on its log instead
            wait(lambda: "Resource group" in self.cluster.log("n1") and "started" in self.cluster.log("n1"), 30,
                 "the group started on n1")
            time.sleep(max(3.0, 3 * self.settings.deadtime_ms / 1000))


class HeartbeatPair:
    """Debian's Heartbeat 3.0.6 on both nodes, the same ha.cf timing and haresources as hbd's."""

    name = "heartbeat"
    settle_after_move_s = 2.0  # Heartbeat refuses a standby while the previous one is finishing

    def __init__(self, lab: Lab, keepalive_ms: int, deadtime_ms: int):
        from heartbeat_peer import LOGFILE, install_ha_d_scripts, start_heartbeat

        self.lab, self.logfile_name = lab, LOGFILE
        self._install, self._start = install_ha_d_scripts, start_heartbeat
        self.settings = ClusterSettings(keepalive_ms=keepalive_ms, deadtime_ms=deadtime_ms,
                                        initdead_ms=max(2 * deadtime_ms, 1000))
        self.cluster = HbdCluster(lab, self.settings)  # only for its config files and the service
        self.peers: dict[str, object] = {}
        self._seen: dict[tuple[str, str], float] = {}

    def logfile(self, node: str) -> Path:
        return self.lab.path(node, "/var/log/hbd") / "ha-log"

    def start(self) -> None:
        for node in self.lab.nodes:
            ha_d = self.lab.path(node, "/etc/ha.d")
            self._install(ha_d)
            self.cluster.write_config([node])
            hacf = ha_d / "ha.cf"
            hacf.write_text(hacf.read_text().replace("logfile /var/log/hbd/hbd.log", f"logfile {self.logfile_name}")
                            .replace("debugfile /var/log/hbd/hbd.debug\n", ""))
        self.peers["n1"] = self._start(self.lab, "n1")
        wait(lambda: log_seen(self.logfile("n1"), "Initial resource acquisition complete", 0), 60, "Heartbeat on n1")
        self.peers["n2"] = self._start(self.lab, "n2")
        wait(lambda: log_seen(self.logfile("n2"), "Initial resource acquisition complete", 0), 60, "Heartbeat on n2")
        time.sleep(6)  # both out of the start-up deadtime (deadtime + 2 s for the first 5 s)

    def handover(self, giver: str) -> None:
        done = self.peers[giver].tool(["/usr/share/heartbeat/hb_standby", "all"])  # type: ignore[attr-defined]
        if done.returncode != 0:
            raise SystemExit(f"hb_standby on {giver} failed: {done.stdout} {done.stderr}")

    def power_off(self, node: str) -> None:
        self.lab.power_off(node)
        peer = self.peers.pop(node, None)
        if peer is not None:
            peer.proc.wait(timeout=5)  # type: ignore[attr-defined]

    def detected(self, observer: str, peer: str, after: float) -> float | None:
        """Heartbeat's log has whole seconds: the time is when this process saw the line (polled every
        20 ms by the caller's wait), so it is late by up to the poll interval."""
        return self._seen.get((observer, peer))

    def watch_detection(self, observer: str, peer: str, timeout: float) -> None:
        path = self.logfile(observer)
        size = len(path.read_text(errors="replace")) if path.exists() else 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if log_seen(path, f"node {peer}: is dead", size):
                self._seen[(observer, peer)] = time.monotonic()
                return
            time.sleep(0.005)

    def pids(self, node: str) -> list[int]:
        return session_pids(self.lab, node, self.peers[node].proc.pid)  # type: ignore[attr-defined]

    def close(self) -> None:
        for peer in self.peers.values():
            peer.stop()  # type: ignore[attr-defined]


KEEPALIVED_CONF = """global_defs {{
    router_id {node}
    enable_script_security
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int {advert}
    {version}
    nopreempt
    virtual_ipaddress {{
        {vip}/24 dev eth0
    }}
}}
"""


class KeepalivedPair:
    """keepalived's VRRP on eth0 of both nodes, n1 with the higher priority; nopreempt, so that a node back
    after a graceful stop stays backup (as hbd-standby leaves it) and the second handover is a real move."""

    name = "keepalived"
    settle_after_move_s = 2.0  # the stopped node is back as a backup and has heard the new master

    def __init__(self, lab: Lab, keepalive_ms: int, deadtime_ms: int):
        self.lab = lab
        self.advert_s = keepalive_ms / 1000
        self.vip = ClusterSettings().vip
        self.procs: dict[str, subprocess.Popen] = {}
        self._seen: dict[tuple[str, str], float] = {}

    def _dir(self, node: str) -> Path:
        path = self.lab.path(node, "/var/lib/hbd") / "keepalived"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def logfile(self, node: str) -> Path:
        return self._dir(node) / "log"

    def _spawn(self, node: str) -> None:
        d = self._dir(node)
        # VRRPv3 for sub-second adverts (centiseconds); v2 only has whole seconds
        version = "version 3" if self.advert_s < 1 else ""
        (d / "keepalived.conf").write_text(KEEPALIVED_CONF.format(
            node=node, priority=150 if node == "n1" else 100, advert=f"{self.advert_s:g}", version=version,
            vip=self.vip))
        inside = "/var/lib/hbd/keepalived"
        with open(d / "log", "ab") as out:
            self.procs[node] = self.lab.spawn(node, [
                str(KEEPALIVED), "--dont-fork", "--log-console", "--log-detail", "--vrrp",
                f"--use-file={inside}/keepalived.conf", f"--pid={inside}/keepalived.pid",
                f"--vrrp_pid={inside}/vrrp.pid"], stdout=out, stderr=subprocess.STDOUT)

    def start(self) -> None:
        if not KEEPALIVED.exists():
            raise SystemExit("keepalived is not installed (make bench installs it)")
        self._spawn("n1")
        wait(lambda: log_seen(self.logfile("n1"), "Entering MASTER STATE", 0), 30, "keepalived master on n1")
        self._spawn("n2")
        wait(lambda: log_seen(self.logfile("n2"), "Entering BACKUP STATE", 0), 30, "keepalived backup on n2")
        time.sleep(max(1.0, 5 * self.advert_s))

    def handover(self, giver: str) -> None:
        """keepalived has no standby command: a graceful stop sends a priority-0 advertisement."""
        taker = "n2" if giver == "n1" else "n1"
        size = self.logfile(taker).stat().st_size
        proc = self.procs.pop(giver)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        wait(lambda: log_seen(self.logfile(taker), "Entering MASTER STATE", size), 10, "the backup to take over")
        self._spawn(giver)  # back as a backup (nopreempt)

    def power_off(self, node: str) -> None:
        self.lab.power_off(node)
        proc = self.procs.pop(node, None)
        if proc is not None:
            proc.wait(timeout=5)

    def watch_detection(self, observer: str, peer: str, timeout: float) -> None:
        path = self.logfile(observer)
        size = path.stat().st_size
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if log_seen(path, "Entering MASTER STATE", size):
                self._seen[(observer, peer)] = time.monotonic()
                return
            time.sleep(0.005)

    def detected(self, observer: str, peer: str, after: float) -> float | None:
        return self._seen.get((observer, peer))

    def pids(self, node: str) -> list[int]:
        return session_pids(self.lab, node, self.procs[node].pid)

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)


PAIRS = {"hbd": HbdPair, "heartbeat": HeartbeatPair, "keepalived": KeepalivedPair}


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for pkg in ("heartbeat", "keepalived"):
        done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True, check=False)
        out[pkg] = done.stdout.strip() or "not installed"
    try:
        from hbd import __version__
        out["hbd"] = __version__
    except ImportError:
        pass
    return out
