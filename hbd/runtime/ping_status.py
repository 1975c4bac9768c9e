"""The `ping` object of `hbd status` (doc/status-schema.md): each ping node's verdict, this node's count and
the peer's, and the ipfail comparison after hysteresis (hbd/core/ipfail.py); and its text lines."""
from __future__ import annotations

from typing import Any

from hbd.core.ipfail import Connectivity

COMPARED = {-1: "fewer", 0: "equal", 1: "more"}


def block(nodes: list[dict[str, object]], c: Connectivity) -> dict[str, Any]:
    known = c.mine is not None and c.peer is not None
    return {"nodes": nodes, "count": c.mine, "peer_count": c.peer,
            "compared": COMPARED[c.effective] if known else None}


def format_lines(ping: dict[str, Any]) -> list[str]:
    peer = "not reported" if ping["peer_count"] is None else str(ping["peer_count"])
    here = "not judged yet" if ping["count"] is None else str(ping["count"])
    compared = f", this node reaches {ping['compared']}" if ping["compared"] else ""
    lines = [f"ping nodes: {here} of {len(ping['nodes'])} reachable here, peer {peer}{compared}"]
    for node in ping["nodes"]:
        verdict = {True: "reachable", False: "unreachable", None: "not judged yet"}[node["reachable"]]
        since = "" if node["since_s"] is None else f" for {node['since_s']:.1f} s"
        last = "no reply yet" if node["last_reply_s"] is None else f"last reply {node['last_reply_s']:.1f} s ago"
        hosts = "" if node["hosts"] == [node["name"]] else f" ({' '.join(node['hosts'])})"
        lines.append(f"  {node['name']}{hosts}: {verdict}{since}, {last}")
    return lines
