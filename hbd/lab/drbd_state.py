"""State and rules of the lab's emulated DRBD: roles, connection, disks, split brain, changes.

The state of each resource is one JSON file in the lab's drbd directory, shared by the nodes and changed
only under an exclusive lock. Connection states are not stored but derived from the nodes' wishes and the
lab network (is the replication medium cut?), then `settle` applies what DRBD would do when a connection
comes up: resync from the one side that changed, or split brain when both sides were Primary apart.
"""
from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hbd.errors import LabError

LOCK_TIMEOUT = 5.0
CONNECTED, WF_CONNECTION, STANDALONE, UNCONFIGURED = "Connected", "WFConnection", "StandAlone", "Unconfigured"


@dataclass
class NodeDrbd:
    configured: bool = True
    role: str = "Secondary"
    disk: str = "UpToDate"
    standalone: bool = False  # `disconnect`ed or dropped by split brain; `connect` clears it
    discard_my_data: bool = False
    primary_while_disconnected: bool = False  # DRBD starts a new data generation then
    changes_kb: int = 0  # written while disconnected: what a resync (or a discard) will carry
    peer_disk: str | None = None  # the peer's disk as a fence-peer handler established it while disconnected


@dataclass
class ResourceState:
    name: str
    nodes: dict[str, NodeDrbd]
    split_brain: bool = False
    written_kb: int | None = None  # device write counter at the last look
    cstates: dict[str, str] = field(default_factory=dict)  # last logged, to log changes only
    images: dict[str, str] = field(default_factory=dict)  # node -> loop device holding its data (drbd_images)

    def peer(self, node: str) -> str:
        others = [n for n in self.nodes if n != node]
        return others[0]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ResourceState":
        nodes = {n: NodeDrbd(**v) for n, v in data["nodes"].items()}
        return cls(data["name"], nodes, data.get("split_brain", False), data.get("written_kb"), data.get("cstates", {}),
                   data.get("images", {}))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def cstate(res: ResourceState, node: str, link_ok: bool) -> str:
    me, peer = res.nodes[node], res.nodes[res.peer(node)]
    if not me.configured:
        return UNCONFIGURED
    if me.standalone:
        return STANDALONE
    if not peer.configured or peer.standalone or not link_ok:
        return WF_CONNECTION
    return CONNECTED


def settle(res: ResourceState, link_ok: bool, written_kb: int | None) -> list[str]:
    """Apply what happens on its own (writes counted, connections made, split brain found); log lines."""
    log: list[str] = []
    states = {n: cstate(res, n, link_ok) for n in res.nodes}
    if written_kb is not None and res.written_kb is not None and written_kb > res.written_kb:
        delta = written_kb - res.written_kb
        for n, node in res.nodes.items():
            if node.configured and node.role == "Primary" and states[n] != CONNECTED:
                node.changes_kb += delta
    if written_kb is not None:
        res.written_kb = written_kb
    for n, node in res.nodes.items():
        if node.role == "Primary" and node.configured and states[n] != CONNECTED and not node.primary_while_disconnected:
            node.primary_while_disconnected = True
            log.append(f"{n}: Primary while disconnected: new data generation")
    diverged = [n for n, node in res.nodes.items() if node.primary_while_disconnected]
    if len(diverged) == 2 and not res.split_brain:
        res.split_brain = True
        log.append(f"split brain recorded: {' and '.join(diverged)} both Primary while disconnected")
    if all(s == CONNECTED for s in states.values()):
        log += _on_connect(res, diverged)
    for n in res.nodes:
        now = cstate(res, n, link_ok)
        if res.cstates.get(n) != now:
            log.append(f"{n}: conn( {res.cstates.get(n, 'Unconfigured')} -> {now} )")
            res.cstates[n] = now
    return log


def _drop_connection(res: ResourceState, why: str) -> list[str]:
    for node in res.nodes.values():
        node.standalone = True
        node.discard_my_data = False
    return [why]


def _on_connect(res: ResourceState, diverged: list[str]) -> list[str]:
    if res.split_brain:
        victims = [n for n in res.nodes if res.nodes[n].discard_my_data]
        if len(victims) != 1:
            return _drop_connection(res, "Split-Brain detected but unresolved, dropping connection!")
        victim = victims[0]
        if res.nodes[victim].role == "Primary":  # DRBD will not overwrite the data under a Primary's users
            return _drop_connection(res, "I shall become SyncTarget, but I am primary!")
        survivor = res.peer(victim)
        lost = res.nodes[victim].changes_kb
        log = [f"Split-Brain detected, manually solved. Sync from {survivor}: {victim} discards {lost} KB of its changes"]
        res.split_brain = False
        log += follow_image(res, survivor)
    elif diverged:
        source = diverged[0]
        log = [f"resync {source} -> {res.peer(source)}: {res.nodes[source].changes_kb} KB"]
        log += follow_image(res, source)
    else:
        primaries = [n for n, node in res.nodes.items() if node.role == "Primary"]
        log = follow_image(res, primaries[0]) if primaries else []
    for node in res.nodes.values():
        node.primary_while_disconnected = False
        node.discard_my_data = False
        node.changes_kb = 0
        node.disk = "UpToDate"
        node.peer_disk = None
    return log


def follow_image(res: ResourceState, source: str) -> list[str]:
    """After a sync from `source` the peer's disk equals source's: it uses source's image from now on.

    The peer is the SyncTarget, so Secondary and unopenable (drbd_device): nothing of it is mounted.
    """
    target = res.peer(source)
    image = res.images.get(source)
    if image is None or res.images.get(target) == image:
        return []
    res.images[target] = image
    return [f"{target}: disk follows {source}'s image {image}"]


def needs_own_image(res: ResourceState, node: str, link_ok: bool) -> bool:
    """True when `node`, Primary apart from its peer, still shares the image of a peer whose data is its own.

    The peer's data is of another generation when it is Primary (its writes are not replicated now) or
    was Primary while disconnected: from here on the two sides' data differ, as two DRBD disks would.
    """
    me, peer_name = res.nodes[node], res.peer(node)
    peer = res.nodes[peer_name]
    if me.role != "Primary" or cstate(res, node, link_ok) == CONNECTED:
        return False
    if node not in res.images or res.images[node] != res.images.get(peer_name):
        return False
    return (peer.configured and peer.role == "Primary") or peer.primary_while_disconnected


def free_image(res: ResourceState, candidates: list[str]) -> str | None:
    """The first candidate image no node uses."""
    used = set(res.images.values())
    return next((c for c in candidates if c not in used), None)


# ---- the store ------------------------------------------------------------------------------------
class ResourceStore:
    """The JSON file of one resource plus its lock and its state-change log."""

    def __init__(self, directory: Path, resource: str):
        self.file = directory / f"{resource}.json"
        self.lock_file = directory / f"{resource}.lock"
        self.log_file = directory / f"{resource}.log"
        self.resource = resource

    @contextmanager
    def locked(self) -> Iterator[ResourceState]:
        """Exclusive read-modify-write; the state is saved when the block ends without error."""
        with open(self.lock_file, "a") as lock:
            deadline = time.monotonic() + LOCK_TIMEOUT
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise LabError(f"{self.lock_file}: still locked after {LOCK_TIMEOUT:g} s") from None
                    time.sleep(0.005)
            res = self.read()
            yield res
            tmp = self.file.with_suffix(".tmp")
            tmp.write_text(json.dumps(res.to_json(), indent=1, sort_keys=True))
            tmp.rename(self.file)

    def read(self) -> ResourceState:
        try:
            return ResourceState.from_json(json.loads(self.file.read_text()))
        except FileNotFoundError:
            raise LabError(f"no emulated DRBD resource {self.resource} ({self.file})") from None

    def log(self, node: str | None, lines: list[str]) -> None:
        if not lines:
            return
        stamp = f"{time.monotonic():.6f} {time.strftime('%Y-%m-%dT%H:%M:%S')}"
        who = f" {node}" if node else ""
        with open(self.log_file, "a") as fh:
            fh.writelines(f"{stamp}{who} {self.resource}: {line}\n" for line in lines)

    def log_lines(self) -> list[str]:
        try:
            return self.log_file.read_text().splitlines()
        except FileNotFoundError:
            return []


def initialise(directory: Path, resource: str, nodes: list[str], image: str | None = None) -> None:
    """Both sides up, Secondary, connected, UpToDate: where the seed's setup ends after the first sync.

    `image`: the loop device both sides' data is on while it is one generation (drbd_images).
    """
    directory.mkdir(parents=True, exist_ok=True)
    res = ResourceState(resource, {n: NodeDrbd() for n in nodes[:2]}, cstates={n: CONNECTED for n in nodes[:2]},
                        images={n: image for n in nodes[:2]} if image else {})
    store = ResourceStore(directory, resource)
    store.file.write_text(json.dumps(res.to_json(), indent=1, sort_keys=True))
    store.log(None, [f"{n}: conn( Unconfigured -> Connected ) disk( UpToDate )" for n in nodes[:2]])


def _resources(directory: Path) -> list[ResourceStore]:
    return [ResourceStore(directory, p.stem) for p in sorted(directory.glob("*.json"))]


def power_lost(directory: Path, node: str) -> None:
    for store in _resources(directory):
        with store.locked() as res:
            if node in res.nodes:
                res.nodes[node].configured = False
                res.nodes[node].role = "Secondary"
                res.nodes[node].standalone = False
                store.log(node, ["power lost: role( Secondary ) conn( Unconfigured )"])


def booted(directory: Path, node: str) -> None:
    """The init script's `drbdadm up` at boot."""
    for store in _resources(directory):
        with store.locked() as res:
            if node in res.nodes:
                res.nodes[node].configured = True
                store.log(node, ["boot: drbdadm up"])
