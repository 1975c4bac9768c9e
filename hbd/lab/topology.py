"""The lab's network: a switch namespace with one bridge per medium, veths to node and client namespaces.

Every veth is created inside the switch namespace with its peer sent straight into the node's namespace,
so no interface ever exists in the root network namespace.
"""
from __future__ import annotations

from hbd.lab import netns as ns
from hbd.lab.layout import LabLayout
from hbd.lab.shell import ip_batch, run

# Quiet namespaces: no IPv6 chatter (router solicitations, DAD) in captures; IPv4 keeps kernel defaults.
SYSCTLS = (
    ("net.ipv6.conf.all.disable_ipv6", "1"),
    ("net.ipv6.conf.default.disable_ipv6", "1"),
)


def all_netns(layout: LabLayout) -> list[str]:
    return [layout.switch_netns, layout.client_netns] + [layout.netns(n) for n in layout.nodes]


def create(layout: LabLayout) -> None:
    ip_batch(None, [f"netns add {name}" for name in all_netns(layout)])
    for name in all_netns(layout):
        for key, value in SYSCTLS:
            try:
                ns.write_sysctl(name, key, value)
            except FileNotFoundError:
                pass  # kernel without IPv6: nothing to quieten
    sw: list[str] = []
    for medium in range(layout.media):
        br = layout.bridge(medium)
        # No STP and no multicast snooping: ports forward at once and multicast heartbeats reach everyone.
        sw.append(f"link add {br} type bridge stp_state 0 forward_delay 0 mcast_snooping 0")
        sw.append(f"link set {br} up")
        for node in layout.nodes:
            port = layout.switch_port(node, medium)
            sw.append(
                f"link add {port} type veth peer name {layout.node_iface(medium)} "
                f"address {layout.mac(node, medium)} netns {layout.netns(node)}"
            )
            sw.append(f"link set {port} master {br} up")
    sw.append(
        f"link add {layout.CLIENT_PORT} type veth peer name eth0 address {layout.client_mac} "
        f"netns {layout.client_netns}"
    )
    sw.append(f"link set {layout.CLIENT_PORT} master {layout.bridge(0)} up")
    ip_batch(layout.switch_netns, sw)
    for node in layout.nodes:
        cmds = ["link set lo up"]
        for medium in range(layout.media):
            cmds.append(_base_address(layout, node, medium))
            cmds.append(f"link set {layout.node_iface(medium)} up")
        ip_batch(layout.netns(node), cmds)
    ip_batch(
        layout.client_netns,
        ["link set lo up", f"addr add {layout.client_address}/{layout.prefixlen(0)} brd + dev eth0",
         "link set eth0 up"],
    )


def _base_address(layout: LabLayout, node: str, medium: int) -> str:
    # `brd +`: Heartbeat's bcast medium sends nothing on an address without a broadcast address.
    return (f"addr add {layout.address(node, medium)}/{layout.prefixlen(medium)} brd + "
            f"dev {layout.node_iface(medium)}")


def reset_addresses(layout: LabLayout, node: str) -> None:
    """Back to the node's configured addresses only, as after a reboot: VIPs added at run time are gone."""
    cmds: list[str] = []
    for medium in range(layout.media):
        cmds += [f"addr flush dev {layout.node_iface(medium)}", _base_address(layout, node, medium)]
    ip_batch(layout.netns(node), cmds)


def destroy(layout: LabLayout) -> None:
    """Delete the namespaces; deleting the switch namespace removes every bridge and veth with it."""
    existing = set(list_netns())
    names = [n for n in all_netns(layout) if n in existing]
    if names:
        ip_batch(None, [f"netns delete {name}" for name in names])


def list_netns() -> list[str]:
    if not ns.NETNS_RUN.is_dir():
        return []
    return sorted(p.name for p in ns.NETNS_RUN.iterdir())


def set_port(layout: LabLayout, node: str, medium: int, up: bool) -> None:
    """Pull or plug the node's cable on `medium`: the switch-side port goes down, the node loses carrier."""
    run(["ip", "-n", layout.switch_netns, "link", "set", layout.switch_port(node, medium), "up" if up else "down"])
