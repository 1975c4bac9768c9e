"""The `vip_links` object of `hbd status` (doc/status-schema.md): each watched VIP interface's carrier, and
the groups without VIP carrier here (as told to the peer, after the hold) and on the peer (link_rule.py);
and its text lines."""
from __future__ import annotations

from typing import Any

from hbd.core.holdings import Topology
from hbd.core.link_rule import LinkState
from hbd.runtime.link_monitor import LinkMonitor


def block(interfaces: list[dict[str, object]], state: LinkState, topology: Topology) -> dict[str, Any]:
    peer = None if state.peer is None else topology.ordered(state.peer)
    return {"interfaces": interfaces, "down_here": topology.ordered(state.effective), "down_on_peer": peer}


def format_lines(links: dict[str, Any]) -> list[str]:
    lines = []
    for i in links["interfaces"]:
        carrier = "carrier up" if i["carrier"] else f"NO CARRIER ({i['operstate']})"
        since = "" if i["since_s"] is None else f" for {i['since_s']:.1f} s"
        lines.append(f"VIP link {i['name']}: {carrier}{since} (groups {' '.join(i['groups'])})")
    peer = "not reported" if links["down_on_peer"] is None else (" ".join(links["down_on_peer"]) or "none")
    lines.append(f"groups without VIP carrier: here {' '.join(links['down_here']) or 'none'}; on the peer {peer}")
    return lines


def of(monitor: LinkMonitor | None, state: LinkState | None, topology: Topology) -> dict[str, Any] | None:
    """The block, or None while the link monitor watches nothing (off, no address resource, not resolved)."""
    if monitor is None or monitor.table is None or state is None:
        return None
    return block(monitor.describe(), state, topology)
