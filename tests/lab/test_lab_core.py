"""The lab itself: topology, node isolation, command execution, the client, and a clean tear-down."""
from __future__ import annotations

import socket
import subprocess

import pytest

from hbd.errors import LabError
from hbd.lab import Lab, netns, reboot_guard
from hbd.lab.cleanup import traces

pytestmark = pytest.mark.lab


def ask(lab: Lab, address: str, port: int = 7777, timeout: float = 2.0) -> str:
    """Connect from the client namespace and return what the responder says."""
    sock = netns.socket_in(lab.client_netns)
    with sock:
        sock.settimeout(timeout)
        sock.connect((address, port))
        return sock.recv(100).decode().strip()


def test_nodes_have_addresses_hostname_and_answer_the_client(lab: Lab) -> None:
    assert lab.nodes == ["n1", "n2"]
    for i, node in enumerate(lab.nodes, start=1):
        assert lab.exec(node, ["hostname"]).stdout.strip() == node
        addrs = lab.exec(node, ["ip", "-4", "-o", "addr", "show"]).stdout
        assert f"192.0.2.{10 + i}/24" in addrs and f"198.51.100.{10 + i}/24" in addrs
        assert lab.address(node, 1) == f"198.51.100.{10 + i}"
        assert ask(lab, lab.address(node)) == node
    assert lab.client_address == "192.0.2.100"
    assert "192.0.2.100/24" in lab.client_exec(["ip", "-4", "-o", "addr", "show", "eth0"]).stdout


def test_private_dirs_are_bind_mounted_per_node(lab: Lab) -> None:
    lab.path("n1", "/etc/ha.d").joinpath("ha.cf").write_text("node n1\n")
    assert lab.exec("n1", ["cat", "/etc/ha.d/ha.cf"]).stdout == "node n1\n"
    assert lab.exec("n2", ["ls", "/etc/ha.d"]).stdout == ""
    lab.exec("n2", ["sh", "-c", "echo 7 > /var/lib/hbd/generation"])
    assert lab.path("n2", "/var/lib/hbd").joinpath("generation").read_text() == "7\n"
    assert not lab.path("n1", "/var/lib/hbd").joinpath("generation").exists()
    with pytest.raises(ValueError):
        lab.path("n1", "/etc/passwd")


def test_reboot_inside_a_node_is_recorded_and_never_reaches_this_machine(lab: Lab) -> None:
    for name in reboot_guard.COMMANDS:  # first: were the guard missing, the next lines would reboot this machine
        found = lab.exec("n1", ["sh", "-c", f"command -v {name}"]).stdout.strip()
        assert found == str(lab.layout.bin_dir / name), found
    for argv in (["reboot", "-f"], ["poweroff"], ["halt", "-f"]):
        assert lab.exec("n1", argv).returncode == 0
    asked = lab.path("n1", reboot_guard.REQUESTS_DIR) / reboot_guard.REQUESTS_FILE
    assert asked.read_text() == "reboot -f\npoweroff \nhalt -f\n"
    assert not (lab.path("n2", reboot_guard.REQUESTS_DIR) / reboot_guard.REQUESTS_FILE).exists()


def test_commands_run_in_the_node_cgroup_and_namespaces(lab: Lab) -> None:
    proc = lab.spawn("n1", ["sleep", "30"])
    assert proc.pid in lab.processes("n1")
    assert proc.pid not in lab.processes("n2")
    own = lab.exec("n1", ["readlink", "/proc/self/ns/net"]).stdout
    other = lab.exec("n2", ["readlink", "/proc/self/ns/net"]).stdout
    assert own != other
    assert lab.exec("n1", ["test", "-b", "/dev/drbd0"]).returncode == 0
    # no namespace file of any lab is pinned by a node's mount table (it would outlive `ip netns delete`)
    assert " nsfs " not in lab.exec("n1", ["cat", "/proc/self/mountinfo"]).stdout
    assert lab.exec("n1", ["sh", "-c", "command -v drbdadm"]).stdout.strip() == str(lab.layout.bin_dir / "drbdadm")


def test_exec_reports_failures_and_timeouts(lab: Lab) -> None:
    assert lab.exec("n1", ["false"], check=False).returncode == 1
    with pytest.raises(LabError, match="exit 1"):
        lab.exec("n1", ["false"])
    with pytest.raises(LabError, match="timed out"):
        lab.exec("n1", ["sleep", "5"], timeout=0.3)
    with pytest.raises(ValueError):
        lab.exec("n9", ["true"])


def test_down_leaves_nothing_behind_even_with_running_processes(new_lab) -> None:
    lab = new_lab(nodes=3, media=1)
    assert lab.nodes == ["n1", "n2", "n3"]
    lab.spawn("n3", ["sleep", "60"])
    lab.client_spawn(["sleep", "60"], stdout=subprocess.DEVNULL)
    lab.exec("n2", ["drbdadm", "primary", "r0"])
    lab.exec("n2", ["mount", "/dev/drbd0", "/mnt"])
    assert traces(lab.name)  # sanity: the check sees a live lab
    lab.down()
    assert traces(lab.name) == []


def test_labs_in_parallel_are_independent(new_lab) -> None:
    first, second = new_lab(), new_lab()
    assert first.name != second.name
    assert ask(first, first.address("n2")) == "n2"
    second.down()
    assert ask(first, first.address("n1")) == "n1"


def test_failed_up_cleans_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from hbd.lab import lab as lab_module

    def broken(*args, **kwargs):
        raise LabError("injected failure while starting nodes")

    monkeypatch.setattr(lab_module.Lab, "_start_nodes", broken)
    name = "hbltestfail"
    with pytest.raises(LabError, match="injected"):
        Lab.up(name=name)
    assert traces(name) == []


def test_root_namespace_interfaces_are_untouched(new_lab) -> None:
    before = socket.if_nameindex()
    lab = new_lab()
    assert ask(lab, lab.address("n1")) == "n1"
    assert socket.if_nameindex() == before
