"""Announce a VIP that stays on this node again: gratuitous ARP (IPv4) or unsolicited NA (IPv6).

After a partition heals, or when both nodes held a group and the other one released it, clients and
switches may still map the address to the other node's MAC: the releasing node sends nothing, so without
a fresh announcement the address is unreachable until the clients' ARP entries expire (observed: ~30 s).
The keeper sends the same burst as a start (count and interval of the resource), stopping early if the
address leaves. Only hbd's built-in IPaddr2 can announce; any other agent is named in the log.
"""
from __future__ import annotations

from hbd.agents import arp
from hbd.agents.base import Agent, Deadline, Outcome

STATUS_S = 1.0


def announce(agent: Agent) -> str:
    """Send the first announcement now and the rest of the burst from a thread; say what was done."""
    # Imported here, on this rare path: a daemon without an IPaddr2 resource never loads pyroute2 (~13 MB).
    from pyroute2 import IPRoute

    from hbd.agents.ipaddr2 import IPaddr2

    if not isinstance(agent, IPaddr2):
        return f"{agent.label}: not announced again (only the built-in IPaddr2 can)"
    if agent.call("status").outcome is not Outcome.RUNNING:
        return f"{agent.label}: not configured here: not announced"
    spec = agent.spec
    with IPRoute() as ipr:
        place = agent.resolve(ipr)
        if isinstance(place, str):
            return f"{agent.label}: not announced: {place}"
        mac = str(ipr.get_links(place.index)[0].get_attr("IFLA_ADDRESS"))
    frames = arp.announcement(mac, str(spec.address))
    sock = arp.open_sender(place.iface)
    for frame in frames:
        sock.send(frame)

    def still_here() -> bool:  # asked before each round, quietly (no log line per round)
        return agent.status(Deadline(STATUS_S)).outcome is Outcome.RUNNING

    burst = arp.Burst(place.iface, frames, max(spec.garp_count - 1, 0), spec.garp_interval_ms / 1000,
                      still_held=still_here, sock=sock)
    burst.start_thread()
    return (f"Announcing {spec.address} again from {mac} on {place.iface}: {spec.garp_count} rounds, "
            f"{spec.garp_interval_ms} ms apart")
