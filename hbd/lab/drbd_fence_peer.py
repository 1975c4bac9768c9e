"""DRBD's resource-level fencing in the lab's drbdadm emulator: `fencing resource-only;` and the
`fence-peer` handler, with DRBD 8.4's semantics.

DRBD calls `drbdadm fence-peer RES` (which runs the handler named in `handlers { fence-peer "..."; }`)
when a Primary loses its connection, and before a disconnected node becomes Primary while it does not
know the peer's disk to be Outdated. The handler's exit code says what it achieved:
3 the peer's disk is Inconsistent, 4 the peer was outdated, 5 the peer is unreachable (assumed down:
counts as outdated if our disk is UpToDate), 6 the peer is Primary (then WE are outdated), 7 the peer was
fenced (STONITH); anything else: nothing is known. A disconnected node that does not know its peer
outdated is refused Primary: `(-6) Refusing to be Primary while peer is not outdated`.
What is known of the peer's disk lasts until the connection comes back (the resync makes both UpToDate).
"""
from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hbd.lab import drbd_state as st

if TYPE_CHECKING:
    from hbd.lab.drbdadm import Facts, Outcome
    from hbd.lab.lab import Lab

HANDLER_TIMEOUT_S = 60.0
FENCING_ON = ("resource-only", "resource-and-stonith")
KNOWN_OUTDATED = ("Outdated", "Inconsistent")
_FENCING = re.compile(r"\bfencing\s+([a-z-]+)\s*;")
_HANDLER = re.compile(r"\bfence-peer\s+\"([^\"]+)\"\s*;")
MEANING = {3: "peer is inconsistent", 4: "peer was outdated", 5: "peer is unreachable, assumed to be dead",
           6: "peer is primary: outdating myself", 7: "peer was fenced"}


@dataclass(frozen=True)
class FencingConfig:
    policy: str  # dont-care | resource-only | resource-and-stonith
    handler: str | None


def fencing_config(resource: str, config_dir: Path) -> FencingConfig:
    """`fencing` and the `fence-peer` handler of RESOURCE in the node's /etc/drbd.d/*.res."""
    for path in sorted(config_dir.glob("*.res")):
        text = path.read_text()
        start = re.search(rf"resource\s+{re.escape(resource)}\s*\{{", text)
        if start is None:
            continue
        body = text[start.end():]
        policy, handler = _FENCING.search(body), _HANDLER.search(body)
        return FencingConfig(policy.group(1) if policy else "dont-care", handler.group(1) if handler else None)
    return FencingConfig("dont-care", None)


def run_handler(config: FencingConfig, resource: str, minor: int, peer: str) -> int:
    """Run the handler as drbdadm does (through the shell, DRBD_* in its environment); its exit code."""
    if config.handler is None:
        return 1
    env = dict(os.environ, DRBD_RESOURCE=resource, DRBD_MINOR=str(minor), DRBD_PEER=peer, DRBD_PEERS=peer)
    try:
        return subprocess.run(["/bin/sh", "-c", config.handler], env=env, timeout=HANDLER_TIMEOUT_S,
                              check=False).returncode
    except subprocess.TimeoutExpired:
        return 1


def record(res: st.ResourceState, node: str, code: int) -> list[str]:
    """What the handler's exit code tells this node (conn_try_outdate_peer in DRBD 8.4)."""
    me = res.nodes[node]
    log = [f"helper command: fence-peer exit code {code} ({MEANING.get(code, 'fence-peer helper broken')})"]
    if code == 3:
        me.peer_disk = "Inconsistent"
    elif code in (4, 7) or (code == 5 and me.disk == "UpToDate"):
        me.peer_disk = "Outdated"
    elif code == 6:
        me.disk = "Outdated"
        log.append("disk( UpToDate -> Outdated )")
    if me.peer_disk:
        log.append(f"pdsk( DUnknown -> {me.peer_disk} )")
    return log


def fence_peer(resource: str, minor: int, directory: Path, facts: "Facts", config_dir: Path) -> int:
    """`drbdadm fence-peer RES`: run the handler unless the peer is connected or already known outdated."""
    store = st.ResourceStore(directory, resource)
    with store.locked() as res:
        store.log(facts.node, st.settle(res, facts.link_ok, facts.written_kb))
        if st.cstate(res, facts.node, facts.link_ok) == st.CONNECTED or res.nodes[facts.node].peer_disk:
            return 4 if res.nodes[facts.node].peer_disk == "Outdated" else 0
        peer = res.peer(facts.node)
    code = run_handler(fencing_config(resource, config_dir), resource, minor, peer)  # unlocked: the peer locks too
    with store.locked() as res:
        store.log(facts.node, record(res, facts.node, code))
    return code


def before_primary(resource: str, minor: int, options: set[str], directory: Path, facts: "Facts",
                   config_dir: Path) -> "Outcome | None":
    """The call-out before a disconnected node becomes Primary; an Outcome when the promotion is refused."""
    from hbd.lab.drbdadm import FORCE_OPTIONS, _state_failed

    config = fencing_config(resource, config_dir)
    if config.policy not in FENCING_ON or options & FORCE_OPTIONS:
        return None
    store = st.ResourceStore(directory, resource)
    res = store.read()
    me = res.nodes.get(facts.node)
    if (me is None or not me.configured or me.disk != "UpToDate" or me.role == "Primary"
            or st.cstate(res, facts.node, facts.link_ok) == st.CONNECTED or me.peer_disk in KNOWN_OUTDATED):
        return None
    fence_peer(resource, minor, directory, facts, config_dir)
    me = store.read().nodes[facts.node]
    if me.peer_disk in KNOWN_OUTDATED or me.disk != "UpToDate":
        return None  # outdated peer: go on; outdated ourselves: drbdadm primary refuses with (-2)
    return _state_failed(minor, -6, "Refusing to be Primary while peer is not outdated", "primary")


def after_cut(lab: "Lab") -> None:
    """The replication link went down: every connected Primary with resource fencing calls its handler."""
    from hbd.lab.drbd_setup import RESOURCE, replication_medium

    medium = replication_medium(lab.layout)
    if not any(f"{n}:{medium}" in lab.state["cuts"] for n in lab.nodes):
        return
    directory = lab.layout.drbd_dir
    if not (directory / f"{RESOURCE}.json").exists():
        return
    res = st.ResourceStore(directory, RESOURCE).read()
    for node, drbd in res.nodes.items():
        if node in lab.state["powered_off"] or not drbd.configured or drbd.role != "Primary" or drbd.peer_disk:
            continue
        config = fencing_config(RESOURCE, lab.path(node, "/etc/drbd.d"))
        if config.policy in FENCING_ON:
            lab.exec(node, ["drbdadm", "fence-peer", RESOURCE], check=False, timeout=HANDLER_TIMEOUT_S + 5)
