"""The immutable configuration model shared by both formats (Heartbeat files and cluster.conf).

Everything here is a frozen dataclass: configs compare equal, so a reload can compute what changed.
Times are integer milliseconds; node names are lower case (Heartbeat matches them case-insensitively).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

AutoFailback = Literal["on", "off", "legacy"]
MediumKind = Literal["bcast", "mcast", "ucast", "mcast6", "ucast6"]
AuthMethod = Literal["crc", "md5", "sha1", "sha256"]


# --- Heartbeat: ha.cf -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Timing:
    """Membership timing after Heartbeat's derivation rules (heartbeat.md §2.4)."""

    keepalive_ms: int = 1000
    deadtime_ms: int = 30000
    warntime_ms: int = 15000
    initdead_ms: int = 30000
    deadping_ms: int = 30000


@dataclass(frozen=True)
class Medium:
    """One heartbeat path. bcast: interface; mcast: interface+group+port+ttl+loop; ucast: interface+peer."""

    kind: MediumKind
    interface: str
    port: int = 694
    address: str | None = None  # mcast group or ucast peer address
    ttl: int | None = None
    loop: bool | None = None
    line: int | None = None


@dataclass(frozen=True)
class Directive:
    """A directive as written, kept for `hbd config check`, `cl_status hbparameter`-style queries and reload."""

    name: str
    value: str
    line: int


@dataclass(frozen=True)
class PingGroup:
    """ha.cf `ping_group NAME HOST...`: one ping node, reachable when any of its hosts answers (Heartbeat)."""

    name: str
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class HaCf:
    path: str
    nodes: tuple[str, ...]
    local_node: str
    timing: Timing
    media: tuple[Medium, ...]
    udpport: int = 694
    auto_failback: AutoFailback = "legacy"
    ping_nodes: tuple[str, ...] = ()
    ping_groups: tuple[PingGroup, ...] = ()  # each counts as one ping node, reachable if any member answers
    logfile: str | None = None
    debugfile: str | None = None
    logfacility: str | None = None
    use_logd: bool = False
    realtime: bool = True
    hopfudge: int = 1
    directives: tuple[Directive, ...] = ()

    @property
    def peers(self) -> tuple[str, ...]:
        return tuple(n for n in self.nodes if n != self.local_node)


# --- Heartbeat: authkeys ----------------------------------------------------------------------------

@dataclass(frozen=True)
class AuthKey:
    index: int
    method: AuthMethod
    secret: bytes  # empty for crc


@dataclass(frozen=True)
class AuthKeys:
    path: str
    active: int  # the `auth N` index used to sign outgoing packets
    keys: tuple[AuthKey, ...]
    accept_crc: bool = False  # ha.cf `accept_crc on`: a crc key is accepted while `auth N` is an HMAC

    def key(self, index: int) -> AuthKey | None:
        return next((k for k in self.keys if k.index == index), None)

    def verifying_key(self, index: int) -> AuthKey | None:
        """The key that may authenticate a received packet: a crc key only when this node signs with crc
        itself or accept_crc is on (anyone can compute a crc: a leftover crc key would be a back door)."""
        key = self.key(index)
        if key is None or key.method != "crc" or self.accept_crc:
            return key
        signing = self.key(self.active)
        return key if signing is not None and signing.method == "crc" else None

    @property
    def signing_key(self) -> AuthKey:
        key = self.key(self.active)
        assert key is not None, "the parser guarantees that `auth N` names a defined key"
        return key


# --- Heartbeat: haresources -------------------------------------------------------------------------

@dataclass(frozen=True)
class HaResource:
    """One `Name::arg::arg` token. A bare IPv4 token is stored as agent `IPaddr` with the token as arg."""

    agent: str
    args: tuple[str, ...]
    text: str  # exactly as written in the file

    @property
    def argument_string(self) -> str:
        return "::".join(self.args)


@dataclass(frozen=True)
class HaGroup:
    """One logical haresources line: a resource group, started left to right, stopped right to left."""

    number: int  # 1-based position among groups in the file
    node: str  # preferred node (lower case)
    resources: tuple[HaResource, ...]
    file: str
    line: int

    @property
    def key(self) -> str:
        """Heartbeat names a group by its first resource as written."""
        return self.resources[0].text


@dataclass(frozen=True)
class HeartbeatConfig:
    hacf: HaCf
    authkeys: AuthKeys
    groups: tuple[HaGroup, ...]

    def group(self, name: str) -> HaGroup | None:
        """A group by key, or by its 1-based number."""
        for g in self.groups:
            if g.key == name:
                return g
        if name.isdigit():
            n = int(name)
            return next((g for g in self.groups if g.number == n), None)
        return None


# --- Resource trees (both formats) ------------------------------------------------------------------

@dataclass(frozen=True)
class ChildType:
    """A child type declared by a parent rule (rgmanager `<child type start stop forbid>`)."""

    type: str
    start: int = 0
    stop: int = 0
    forbid: bool = False


@dataclass(frozen=True)
class ResourceNode:
    """One node of a resource tree: cluster.conf elements, or one haresources group and its resources.

    `attrs` are the resolved attribute values in stored order (None = an unresolvable inherited value,
    printed `(null)`). `primary` is the primary attribute's value exactly as written.
    A haresources group is a node of type `group` (no declared child types, so its children start
    left to right and stop right to left); each resource is a node whose type is the agent name and
    whose primary is the resource text as written.
    """

    type: str
    primary: str
    attrs: tuple[tuple[str, str | None], ...] = ()
    children: tuple["ResourceNode", ...] = ()
    flags: frozenset[str] = field(default_factory=frozenset)
    line: int | None = None

    def attr(self, name: str) -> str | None:
        return dict(self.attrs).get(name)

    @property
    def ident(self) -> str:
        return f"{self.type}:{self.primary}"
