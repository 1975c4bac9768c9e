"""The daemon's status as one JSON-ready object: nodes and links, groups with owner and state, transitions."""
from __future__ import annotations

import os
import time
from typing import Any, Mapping

from hbd import __version__
from hbd.core.membership_events import MembershipView
from hbd.core.ownership import Ownership
from hbd.core.ownership_view import OwnershipView
from hbd.runtime.ownership_driver import Transition

# Version of this object's layout (doc/status-schema.md, doc/status.schema.json): raised when a field is
# removed, renamed or changes meaning; a new field keeps the version.
SCHEMA_VERSION = 1


def _view(core: Ownership | OwnershipView) -> OwnershipView:
    return core if isinstance(core, OwnershipView) else core.view()


def group_owner(core: Ownership | OwnershipView, key: str) -> str | None:
    """Who runs the group, as far as this node knows: itself, the peer (by its latest report), or nobody."""
    return _view(core).owner(key)


def build(core: Ownership | OwnershipView, view: MembershipView, transitions: list[Transition], *, started_wall: float,
          config_path: str, busy_since_ms: int | None = None,
          resources: Mapping[str, list[tuple[str, str]]] | None = None) -> dict[str, Any]:
    """`resources`: what each resource of each group was last seen doing here (GroupRunner.resource_states)."""
    resources = resources or {}
    own = _view(core)
    snapshot = own.as_dict()
    return {
        "schema": SCHEMA_VERSION,
        "version": __version__,
        "node": own.me,
        "pid": os.getpid(),
        "uptime_s": round(time.time() - started_wall, 1),
        "config": config_path,
        "phase": own.phase.value,
        "stable": own.stable,
        "comm_up": view.comm_up,
        "nodes": [
            {"name": n.name, "status": n.status, "local": n.name == view.local,
             "age_s": None if n.age_s is None else round(n.age_s, 3), "deadtime_ms": n.deadtime_ms,
             "links": [{"name": k.name, "up": k.up} for k in n.links]}
            for n in view.nodes
        ],
        "groups": [
            {"key": g.key, "preferred": g.preferred, "owner": own.owner(g.key),
             "state": own.groups[g.key].value,
             "resources": [{"resource": name, "state": state} for name, state in resources.get(g.key, [])]}
            for g in own.topology.groups
        ],
        "busy": own.busy,
        "peer": snapshot["peer"],
        "standby": snapshot["standby"],
        "config_differs": sorted(own.peer.disputed),
        "transitions": [{"time": time.strftime("%H:%M:%S", time.localtime(t.wall)), "text": t.text,
                         "monotonic": round(t.mono, 6)}
                        for t in transitions],
    }


def summary(core: Ownership | OwnershipView, view: MembershipView) -> str:
    """One line for systemd's STATUS=."""
    own = _view(core)
    held = " ".join(own.topology.ordered(own.held)) or "nothing"
    peer = next((n.status for n in view.nodes if n.name == own.peer.node), "unknown")
    busy = f", {own.busy} in progress" if own.busy else ""
    return f"{own.phase.value}: holding {held}; {own.peer.node} {peer}{busy}"
