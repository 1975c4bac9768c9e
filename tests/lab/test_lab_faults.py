"""Each fault of the lab, shown by measuring its effect on real traffic and processes."""
from __future__ import annotations

import os
import socket
import time

import pytest

from hbd.errors import LabError
from hbd.lab import Lab, netns

pytestmark = pytest.mark.lab
HEARTBEAT_PORT = 694


def udp_delivered(lab: Lab, src: str, dst: str, medium: int, count: int = 20, gap: float = 0.002) -> int:
    """Send `count` heartbeat-port datagrams src -> dst on `medium`; return how many arrived.

    Each call tags its datagrams: ones a cut link held in the kernel's neighbour queue and released on
    restore belong to an earlier call and are not counted.
    """
    tag = os.urandom(4).hex()
    rx = netns.socket_in(lab.netns(dst), socket.AF_INET, socket.SOCK_DGRAM)
    tx = netns.socket_in(lab.netns(src), socket.AF_INET, socket.SOCK_DGRAM)
    with rx, tx:
        rx.bind((lab.address(dst, medium), HEARTBEAT_PORT))
        tx.bind((lab.address(src, medium), 0))
        tx.setblocking(False)
        for i in range(count):
            try:
                tx.sendto(f"hb {tag} {i}".encode(), (lab.address(dst, medium), HEARTBEAT_PORT))
            except OSError:
                pass  # no route / no neighbour while cut: the datagram is lost
            time.sleep(gap)
        rx.settimeout(0.3)
        received = 0
        for _ in range(4 * count):  # duplicates may arrive; bounded either way
            try:
                data = rx.recv(100)
            except (socket.timeout, TimeoutError):
                break
            received += data.split()[1].decode() == tag
        return received


def flows_again(lab: Lab, src: str, dst: str, medium: int, timeout: float = 5.0) -> bool:
    """After a restore, every datagram arrives again within `timeout` s.

    Not at once: the sender's neighbour entry for dst went INCOMPLETE while the medium was cut, and the
    kernel retries ARP only once a second.
    """
    return wait_for(lambda: udp_delivered(lab, src, dst, medium) == 20, timeout=timeout, step=0.0)


def ask(lab: Lab, address: str, timeout: float = 1.0) -> str | None:
    sock = netns.socket_in(lab.client_netns)
    with sock:
        sock.settimeout(timeout)
        try:
            sock.connect((address, 7777))
            return sock.recv(100).decode().strip() or None
        except OSError:
            return None


def connect_time(lab: Lab, address: str) -> float:
    """Seconds a TCP handshake with the node's responder takes from the client (one round trip)."""
    sock = netns.socket_in(lab.client_netns)
    with sock:
        sock.settimeout(5)
        start = time.monotonic()
        sock.connect((address, 7777))
        return time.monotonic() - start


def wait_for(predicate, timeout: float = 5.0, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def link_flags(lab: Lab, node: str, iface: str) -> str:
    return lab.exec(node, ["ip", "-o", "link", "show", iface]).stdout


def test_cut_link_stops_heartbeats_on_that_medium_only(lab: Lab) -> None:
    assert udp_delivered(lab, "n1", "n2", 0) == 20
    assert udp_delivered(lab, "n1", "n2", 1) == 20
    lab.cut("n1", 0, how="link")
    assert "NO-CARRIER" in link_flags(lab, "n1", "eth0")
    assert udp_delivered(lab, "n1", "n2", 0) == 0
    assert udp_delivered(lab, "n1", "n2", 1) == 20
    lab.restore("n1", 0)
    assert wait_for(lambda: "NO-CARRIER" not in link_flags(lab, "n1", "eth0"))
    assert flows_again(lab, "n1", "n2", 0)


def test_filter_partition_keeps_links_up_and_drops_traffic(lab: Lab) -> None:
    lab.cut("n1", how="filter")
    for iface in ("eth0", "eth1"):
        flags = link_flags(lab, "n1", iface)
        assert "state UP" in flags and "NO-CARRIER" not in flags
    assert udp_delivered(lab, "n1", "n2", 0) == 0
    assert udp_delivered(lab, "n2", "n1", 1) == 0
    assert ask(lab, lab.address("n1")) is None
    assert ask(lab, lab.address("n2")) == "n2"
    lab.restore("n1")
    assert flows_again(lab, "n1", "n2", 0)
    assert wait_for(lambda: ask(lab, lab.address("n1")) == "n1")


def test_netem_loss_delay_and_duplication_are_visible(lab: Lab) -> None:
    # resolve neighbours first, so lost ARP requests do not count as lost datagrams
    assert udp_delivered(lab, "n1", "n2", 0) == 20
    lab.netem("n1", 0, loss=50)
    arrived = udp_delivered(lab, "n1", "n2", 0, count=200, gap=0.0005)
    assert 40 <= arrived <= 160, arrived  # 50 % loss: far outside this only with probability < 1e-12
    assert udp_delivered(lab, "n1", "n2", 1, count=50) == 50  # the other medium is untouched
    lab.netem("n1", 0, duplicate=100)
    assert udp_delivered(lab, "n1", "n2", 0, count=20) == 40
    lab.netem("n1", 0, delay_ms=100)
    handshakes = [connect_time(lab, lab.address("n1")) for _ in range(2)]
    assert min(handshakes) >= 0.19, handshakes  # SYN and SYN-ACK each wait 100 ms
    lab.clear_netem("n1", 0)
    assert udp_delivered(lab, "n1", "n2", 0, count=50) == 50


def test_frozen_node_stops_answering_and_resumes_on_thaw(lab: Lab) -> None:
    assert ask(lab, lab.address("n1")) == "n1"
    lab.freeze("n1")
    assert ask(lab, lab.address("n1"), timeout=0.5) is None
    assert ask(lab, lab.address("n2")) == "n2"
    with pytest.raises(LabError, match="frozen"):
        lab.exec("n1", ["true"])
    lab.thaw("n1")
    assert wait_for(lambda: ask(lab, lab.address("n1")) == "n1")


def test_powered_off_node_has_no_processes_and_boots_again(lab: Lab) -> None:
    sleeper = lab.spawn("n1", ["sleep", "60"])
    assert len(lab.processes("n1")) >= 3  # holder, responder, sleeper
    lab.power_off("n1")
    assert lab.processes("n1") == []
    assert sleeper.wait(timeout=5) == -9
    assert ask(lab, lab.address("n1"), timeout=0.3) is None
    with pytest.raises(LabError, match="powered off"):
        lab.exec("n1", ["true"])
    assert ask(lab, lab.address("n2")) == "n2"
    lab.boot("n1")
    assert lab.exec("n1", ["hostname"]).stdout.strip() == "n1"
    assert wait_for(lambda: ask(lab, lab.address("n1")) == "n1")


def test_power_off_loses_what_lived_in_memory(lab: Lab) -> None:
    """A VIP added at run time and the files under /run/hbd do not survive a power cycle; the configured
    addresses do, with their broadcast address (Heartbeat's bcast medium needs one)."""
    lab.exec("n1", ["ip", "addr", "add", "192.0.2.99/24", "dev", "eth0"])
    run_dir = lab.path("n1", "/run/hbd")
    (run_dir / "hbd.pid").write_text("123\n")
    (run_dir / "sub").mkdir()
    lab.power_off("n1")
    assert list(run_dir.iterdir()) == []
    lab.boot("n1")
    shown = lab.exec("n1", ["ip", "-4", "-o", "addr", "show"]).stdout
    assert "192.0.2.99" not in shown
    for medium in range(lab.media):
        line = next(x for x in shown.splitlines() if f" eth{medium} " in x)
        assert f"inet {lab.address('n1', medium)}/24 brd " in line, shown


def test_kill_signals_the_named_process_only(lab: Lab) -> None:
    target = lab.spawn("n1", ["sleep", "60"])
    bystander = lab.spawn("n2", ["sleep", "60"])
    killed = lab.kill("n1", "sleep")
    assert killed == [target.pid]
    assert target.wait(timeout=5) == -9
    assert bystander.poll() is None
    with pytest.raises(LabError, match="no process named"):
        lab.kill("n1", "no-such-daemon")
    lab.kill("n1", "responder")
    assert wait_for(lambda: ask(lab, lab.address("n1"), timeout=0.3) is None)
    bystander.kill()
    bystander.wait(timeout=5)
