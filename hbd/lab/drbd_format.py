"""DRBD's text formats: 8.4 `role`/`cstate`/`dstate` and /proc/drbd lines, 9 `status`; render and parse."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# DRBD 9 says Connecting where 8.4 says WFConnection.
CSTATE_84_TO_9 = {"WFConnection": "Connecting", "Connected": "Connected", "StandAlone": "StandAlone"}
CSTATE_9_TO_84 = {v: k for k, v in CSTATE_84_TO_9.items()}


@dataclass(frozen=True)
class PeerView:
    name: str
    connection: str  # 8.4 names: Connected, WFConnection, StandAlone
    role: str = "Unknown"
    disk: str = "DUnknown"
    out_of_sync_kb: int | None = None


@dataclass(frozen=True)
class ResourceView:
    """What one node sees of one resource."""

    name: str
    minor: int
    role: str
    disk: str
    peer: PeerView
    extra: dict[str, str] = field(default_factory=dict)


# ---- 8.4 -------------------------------------------------------------------------------------------
def render_role(view: ResourceView) -> str:
    return f"{view.role}/{view.peer.role}"


def render_dstate(view: ResourceView) -> str:
    return f"{view.disk}/{view.peer.disk}"


def render_cstate(view: ResourceView) -> str:
    return view.peer.connection


def parse_pair(text: str) -> tuple[str, str]:
    """`Primary/Secondary` or `UpToDate/DUnknown` -> (local, peer)."""
    parts = text.strip().split("/")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"not a DRBD local/peer pair: {text!r}")
    return parts[0], parts[1]


def render_proc_line(view: ResourceView) -> str:
    """The two lines /proc/drbd shows per minor in 8.4."""
    oos = view.peer.out_of_sync_kb or 0
    return (
        f"{view.minor:2d}: cs:{view.peer.connection} ro:{view.role}/{view.peer.role} "
        f"ds:{view.disk}/{view.peer.disk} C r-----\n"
        f"    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:{oos}\n"
    )


PROC_LINE = re.compile(r"^\s*(\d+): cs:(\S+) ro:(\S+)/(\S+) ds:(\S+)/(\S+)")
OOS = re.compile(r"\boos:(\d+)")


def parse_proc(text: str) -> dict[int, dict[str, object]]:
    """/proc/drbd (8.4) -> {minor: {cs, role, peer_role, disk, peer_disk, oos_kb}}; other lines ignored."""
    out: dict[int, dict[str, object]] = {}
    current: int | None = None
    for line in text.splitlines():
        m = PROC_LINE.match(line)
        if m:
            current = int(m.group(1))
            out[current] = {"cs": m.group(2), "role": m.group(3), "peer_role": m.group(4),
                            "disk": m.group(5), "peer_disk": m.group(6), "oos_kb": None}
            continue
        o = OOS.search(line)
        if o and current is not None:
            out[current]["oos_kb"] = int(o.group(1))
    return out


# ---- 9 ---------------------------------------------------------------------------------------------
def render_status(view: ResourceView, statistics: bool = False) -> str:
    peer = view.peer
    lines = [f"{view.name} role:{view.role}", f"  disk:{view.disk}"]
    if peer.connection == "Connected":
        lines += [f"  {peer.name} role:{peer.role}", f"    peer-disk:{peer.disk}"]
    else:
        lines.append(f"  {peer.name} connection:{CSTATE_84_TO_9.get(peer.connection, peer.connection)}")
    if statistics:
        lines.append(f"    out-of-sync:{peer.out_of_sync_kb or 0}")
    return "\n".join(lines) + "\n\n"  # drbdadm ends each resource with an empty line


def parse_status(text: str) -> dict[str, dict[str, object]]:
    """`drbdadm status` (9) -> {resource: {role, disk, peers: {name: {connection, role, peer_disk, ...}}}}.

    Indentation tells the level: resource (0), local volume (2 + key:value), peer (2 + name), peer
    volume (4). Unknown keys are kept as strings so newer drbd-utils output still parses.
    """
    out: dict[str, dict[str, object]] = {}
    res: dict[str, object] | None = None
    peer: dict[str, object] | None = None
    for raw in text.splitlines():
        if not raw.strip():
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        words = raw.split()
        if indent == 0:
            res = {"peers": {}}
            out[words[0]] = res
            res.update(_pairs(words[1:]))
            peer = None
        elif res is None:
            raise ValueError(f"status line before any resource: {raw!r}")
        elif indent == 2 and ":" not in words[0]:
            peer = {"connection": "Connected"}
            peer.update(_pairs(words[1:]))
            res["peers"][words[0]] = peer  # type: ignore[index]
        elif indent == 2:
            res.update(_pairs(words))
            peer = None
        elif peer is not None:
            peer.update(_pairs(words))
        else:
            res.update(_pairs(words))
    return out


def _pairs(words: list[str]) -> dict[str, str]:
    pairs = {}
    for word in words:
        key, sep, value = word.partition(":")
        if not sep:
            raise ValueError(f"not key:value in DRBD status: {word!r}")
        pairs[key.replace("-", "_")] = value
    return pairs
