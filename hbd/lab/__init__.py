"""Network-namespace lab: nodes, switch, client, faults, probes, drbdadm emulator, invariant watchers.

    from hbd.lab import Lab
    with Lab.up(nodes=2, media=2) as lab:            # torn down on exit, Ctrl-C or a failed test
        lab.exec("n1", ["ip", "addr"])                # net + mount + UTS namespaces and cgroup of n1
        daemon = lab.spawn("n2", ["hbd", "-f"])       # long-running; killed with the node or the lab
        lab.path("n1", "/etc/ha.d")                   # host directory mounted at /etc/ha.d in n1
        lab.cut("n1", 1, how="filter"); lab.restore("n1")
        lab.freeze("n2"); lab.thaw("n2"); lab.power_off("n2"); lab.boot("n2")

Addresses: n<i> has 192.0.2.(10+i) on eth0 and 198.51.100.(10+i) on eth1; the client 192.0.2.100.
Modules: layout (names, addresses, paths), topology (namespaces, bridges, veths), nodes (mount/UTS
namespaces, command entry), cgroups, disk (loop device), faults, impair (netem or relay), probes, watch,
drbd_* and drbdadm (the DRBD emulator), cleanup (tear-down and leftovers), lab (the Lab object).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hbd.lab.lab import Lab

__all__ = ["Lab"]


def __getattr__(name: str) -> Any:
    # Lazy, so the drbdadm emulator (run for every drbdadm call) does not import the whole lab.
    if name == "Lab":
        from hbd.lab.lab import Lab

        return Lab
    raise AttributeError(name)
