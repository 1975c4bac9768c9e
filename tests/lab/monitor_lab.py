"""Lab helpers for monitoring: a real LSB service (an init script in /etc/init.d starting a small TCP daemon
that answers with its node's name), killed with SIGKILL, and the client-side times until it answers again.

The node's /etc/init.d is a bind mount of a directory of the node's own /etc/ha.d, made inside the node's
mount namespace only (it goes away with the namespace), so the host's /etc/init.d is never touched.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from hbd.lab.hbd_cluster import ClusterSettings, HbdCluster
from hbd.lab.probes import VipProbe

SERVICE = "dbsvc"
PORT = 5432
PIDFILE = "/dev/shm/dbsvc.pid"
DAEMON_PATH = "/etc/ha.d/dbsvc-daemon.py"  # /dev/shm is private to each node and emptied by a power-off
DAEMON = ("import socket, os\n"
          "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
          f"s.bind(('0.0.0.0', {PORT})); s.listen(64); name = os.uname().nodename.encode() + b'\\n'\n"
          "while True:\n"
          "    c, _ = s.accept(); c.sendall(name); c.close()\n")
LSB_SCRIPT = f"""#!/bin/sh
### BEGIN INIT INFO
# Provides:          {SERVICE}
# Required-Start:    $network
# Required-Stop:     $network
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: a small TCP service for hbd's monitoring tests
### END INIT INFO
PID={PIDFILE}
alive() {{ [ -s "$PID" ] && kill -0 "$(cat "$PID")" 2>/dev/null; }}
listening() {{ python3 -c 'import socket; socket.create_connection(("127.0.0.1", {PORT}), 0.2)' 2>/dev/null; }}
case "$1" in
  start)
    alive && exit 0
    setsid python3 {DAEMON_PATH} </dev/null >/dev/null 2>&1 &
    echo $! > "$PID"
    i=0; while [ $i -lt 100 ]; do listening && exit 0; alive || exit 1; sleep 0.05; i=$((i+1)); done
    exit 1;;
  stop)
    if alive; then kill "$(cat "$PID")"; i=0; while alive && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; fi
    alive && exit 1
    rm -f "$PID"; exit 0;;
  status)
    if alive; then echo "{SERVICE} is running"; exit 0; fi
    if [ -e "$PID" ]; then echo "{SERVICE} is dead, pid file exists"; exit 1; fi
    echo "{SERVICE} is stopped"; exit 3;;
  restart|force-reload) "$0" stop && "$0" start;;
  *) echo "usage: $0 start|stop|status|restart|force-reload"; exit 2;;
esac
"""


@dataclass(frozen=True)
class MonitoredSettings(ClusterSettings):
    def haresources(self) -> str:
        return f"{self.preferred} IPaddr2::{self.vip}/24/eth0 {SERVICE}\n"


def monitor_line(interval_s: float, timeout_s: float, max_restarts: int, window_s: int = 600) -> str:
    return f"monitor interval={interval_s:g} timeout={timeout_s:g} max_restarts={max_restarts} window={window_s}\n"


def install_service(cluster: HbdCluster) -> None:
    """The LSB script in every node's /etc/init.d (a bind mount in the node's own mount namespace)."""
    for node in cluster.lab.nodes:
        folder = cluster.lab.path(node, "/etc/ha.d") / "init.d"
        folder.mkdir(exist_ok=True)
        (folder / SERVICE).write_text(LSB_SCRIPT)
        (folder / SERVICE).chmod(0o755)
        (cluster.lab.path(node, "/etc/ha.d") / "dbsvc-daemon.py").write_text(DAEMON)
        cluster.lab.exec(node, ["mount", "--bind", "/etc/ha.d/init.d", "/etc/init.d"])


def service_pid(cluster: HbdCluster, node: str) -> int | None:
    done = cluster.lab.exec(node, ["cat", PIDFILE], check=False)
    text = done.stdout.strip()
    return int(text) if done.returncode == 0 and text.isdigit() else None


def kill9(cluster: HbdCluster, node: str) -> tuple[int, float]:
    """SIGKILL the service's process on `node`; (its pid, time.monotonic() of the kill)."""
    pid = service_pid(cluster, node)
    assert pid is not None, f"{SERVICE} is not running on {node}"
    at = time.monotonic()  # before: the probe may see the outage before the kill command returns
    cluster.lab.exec(node, ["kill", "-9", str(pid)])
    return pid, at


def answered_again(probe: VipProbe, since: float, answerer: str, timeout: float) -> float | None:
    """Seconds from `since` until the probe saw `answerer` answer again after an outage; None: not in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen_gap = False
        for tr in list(probe.transitions):
            if tr.t < since:
                continue
            if tr.answerer is None:
                seen_gap = True
            elif seen_gap and tr.answerer == answerer:
                return tr.t - since
        time.sleep(0.02)
    return None
