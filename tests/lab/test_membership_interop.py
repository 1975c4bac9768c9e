"""Interop with Debian's Heartbeat 3.0.6: heartbeat on n1, `hbd membership` on n2, the same ha.cf and authkeys.

Each sees the other active with both links up, each declares the other dead after deadtime when it is
powered off, and each accepts the other's packets (checked in both logs).
"""
from __future__ import annotations

import time

from hbd.lab import Lab
from hbd_member import AUTHKEYS, is_link, is_node, start_member, wait_out_startup_dt, write_config
from heartbeat_peer import LOGFILE, require_heartbeat, start_heartbeat

KEEPALIVE_MS, DEADTIME_MS = 500, 3000
REJECTIONS = ("authtoken does not match", "netstring authentication failed", "bad node", "replay attack",
              "dropped packet")


def shared_hacf(lab: Lab) -> str:
    return (f"keepalive {KEEPALIVE_MS}ms\ndeadtime {DEADTIME_MS}ms\nwarntime {DEADTIME_MS // 2}ms\n"
            f"initdead {DEADTIME_MS * 2}ms\nudpport 694\nbcast eth0 eth1\nauto_failback on\n"
            f"logfile {LOGFILE}\nnode {' '.join(lab.nodes)}\n")


def test_heartbeat_and_hbd_see_each_other_and_detect_power_off(lab: Lab) -> None:
    require_heartbeat()
    for node in lab.nodes:
        write_config(lab, node, shared_hacf(lab), AUTHKEYS)
    hb_started = time.monotonic()
    hb = start_heartbeat(lab, "n1")
    member = start_member(lab, "n2")
    try:
        # hbd's view of Heartbeat
        member.wait_for(is_node("n1", "active"), timeout=20)
        member.wait_for(is_link("n1", "eth0", True), timeout=5)
        member.wait_for(is_link("n1", "eth1", True), timeout=5)
        # Heartbeat's view of hbd
        hb.wait_log("Status update for node n2: status active", timeout=20)
        hb.wait_log("Link n2:eth0 up.", timeout=5)
        hb.wait_log("Link n2:eth1 up.", timeout=5)
        time.sleep(2 * KEEPALIVE_MS / 1000)
        for text in REJECTIONS:
            assert text not in hb.log(), f"Heartbeat refused hbd's packets: {text}\n{hb.log()[-3000:]}"
            assert text not in member.log(), f"hbd refused Heartbeat's packets: {text}\n{member.log()[-3000:]}"

        # power off Heartbeat's node: hbd declares it dead after n1's advertised deadtime
        wait_out_startup_dt(hb_started)  # so that hbd judges Heartbeat by its configured deadtime
        lab.power_off("n1")
        off = time.monotonic()
        dead = member.wait_for(is_node("n1", "dead"), timeout=DEADTIME_MS / 1000 + 5)
        hbd_detection = dead["t"] - off
        assert DEADTIME_MS / 1000 - KEEPALIVE_MS / 1000 - 0.1 <= hbd_detection <= DEADTIME_MS / 1000 + 0.25
        assert "WARN: node n1: is dead" in member.log()

        # Heartbeat comes back (new generation), then hbd's node is powered off
        lab.boot("n1")
        hb.stop()
        hb = start_heartbeat(lab, "n1")
        member.wait_for(lambda r: r["event"] == "PeerRestarted" and r["node"] == "n1", timeout=20)
        mark = len(hb.log())
        hb.wait_log("Status update for node n2: status active", timeout=20, after=0)
        time.sleep(6)  # as before: the restarted Heartbeat settles before hbd's node is powered off
        lab.power_off("n2")
        off = time.monotonic()
        seen = hb.wait_log("WARN: node n2: is dead", timeout=DEADTIME_MS / 1000 + 5, after=mark)
        hb_detection = seen - off
        # Heartbeat checks every 250 ms, has been seen up to 0.63 s late here, and the log is polled every
        # 20 ms. The upper bound still tells the configured deadtime from the start-up dt (deadtime + 2 s).
        assert DEADTIME_MS / 1000 - KEEPALIVE_MS / 1000 - 0.1 <= hb_detection <= DEADTIME_MS / 1000 + 1.5
        print(f"hbd detected Heartbeat's power-off in {hbd_detection:.3f} s, Heartbeat detected hbd's in "
              f"{hb_detection:.3f} s (deadtime {DEADTIME_MS / 1000} s)")
        for text in REJECTIONS:
            assert text not in hb.log(), f"Heartbeat refused hbd's packets: {text}\n{hb.log()[-3000:]}"
    finally:
        member.stop()
        hb.stop()


def drop_every_nth(lab: Lab, node: str, peer: str, nth: int) -> None:
    """In `node`'s namespace, drop every nth heartbeat datagram arriving from `peer` (deterministic loss)."""
    script = (f"table inet hbdtest {{\n  chain input {{\n    type filter hook input priority 0;\n"
              f"    ip saddr {lab.address(peer, 0)} udp dport 694 numgen inc mod {nth} == 0 drop\n  }}\n}}\n")
    lab.exec(node, ["nft", "-f", "-"], input=script)


def test_retransmission_between_heartbeat_and_hbd(lab: Lab) -> None:
    """Every 4th packet lost each way on one medium: each side asks the other for the gaps (NS_rexmit) and
    gets them, so each logs `N lost packet(s)` followed by `No pkts missing`, and nothing is given up."""
    require_heartbeat()
    for node in lab.nodes:
        write_config(lab, node, shared_hacf(lab).replace("bcast eth0 eth1", "bcast eth0"), AUTHKEYS)
    hb = start_heartbeat(lab, "n1")
    member = start_member(lab, "n2")
    try:
        member.wait_for(is_node("n1", "active"), timeout=20)
        hb.wait_log("Status update for node n2: status active", timeout=20)
        drop_every_nth(lab, "n1", "n2", 4)
        drop_every_nth(lab, "n2", "n1", 4)
        hb.wait_log("lost packet(s) for [n2]", timeout=10)
        hb.wait_log("No pkts missing from n2!", timeout=10)
        deadline = time.monotonic() + 10
        while "No pkts missing from n1!" not in member.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        log = member.log()
        assert "lost packet(s) for [n1]" in log and "No pkts missing from n1!" in log, log[-3000:]
        for text in ("Irretrievably lost", "Cannot rexmit", "lost a lot"):
            assert text not in hb.log() and text not in log, text
        assert "is dead" not in hb.log() and "is dead" not in log
    finally:
        member.stop()
        hb.stop()
