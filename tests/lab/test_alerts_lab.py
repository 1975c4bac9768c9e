"""Alert scripts in the lab: on the power-off of the active node, the survivor's scripts run one at a time
in event order with the documented variables, and the UDP example's notice reaches a client."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from daemon_lab import lab_cluster

EXAMPLE = Path(__file__).resolve().parents[2] / "etc" / "alerts" / "alert-udp"
RECORD = """#!/bin/sh
echo "$HBD_ALERT_SEQUENCE $HBD_ALERT_KIND $HBD_ALERT_EVENT node=$HBD_ALERT_NODE group=$HBD_ALERT_GROUP \
local=$HBD_ALERT_LOCAL_NODE" >> /var/log/hbd/alerts.log
"""
UDP = f"""#!/bin/sh
ALERT_UDP_ADDRESS=192.0.2.255 exec {EXAMPLE}
"""
RECEIVER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.bind(("0.0.0.0", 5595))
s.settimeout(30)
print("listening", flush=True)
print(s.recv(1024).decode(), flush=True)
"""


def test_alerts_run_in_event_order_and_the_udp_notice_reaches_the_client() -> None:
    with lab_cluster() as cluster:
        lab = cluster.lab
        cluster.write_config(hacf_extra="alert /etc/ha.d/alert-record\nalert /etc/ha.d/alert-udp\nalert_timeout 5\n")
        for node in lab.nodes:
            for name, text in (("alert-record", RECORD), ("alert-udp", UDP)):
                path = lab.path(node, "/etc/ha.d") / name
                path.write_text(text)
                path.chmod(0o755)
        cluster.start("n1")
        cluster.start("n2")
        cluster.wait_owner("n1", timeout=20)
        cluster.wait_owner("n1", timeout=10, ask="n2")
        receiver = lab.client_spawn([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
        try:
            assert receiver.stdout is not None and receiver.stdout.readline().strip() == "listening"
            cluster.power_off("n1")
            record = lab.path("n2", "/var/log/hbd") / "alerts.log"
            group = cluster.settings.group
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and f"resource started node=n2 group={group}" not in (
                    record.read_text() if record.exists() else ""):
                time.sleep(0.05)
            events = [line.split(" ", 1)[1] for line in record.read_text().splitlines()]
            seqs = [int(line.split()[0]) for line in record.read_text().splitlines()]
            assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
            wanted = ["node dead node=n1 group= local=n2", f"resource start node=n2 group={group} local=n2",
                      f"resource started node=n2 group={group} local=n2"]
            assert [e for e in events if e in wanted] == wanted, events
            out, _ = receiver.communicate(timeout=30)
            # the first notice after the client began listening: n1's death, from n2
            assert out.strip().startswith("hbd node dead node=n1 group= from=n2 seq="), out
        finally:
            if receiver.poll() is None:
                receiver.kill()
                receiver.wait(timeout=5)
