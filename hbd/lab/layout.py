"""Names, addresses and host paths of one lab: pure functions of the lab's name and size."""
from __future__ import annotations

import ipaddress
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

# Every object a lab creates carries this prefix, so `hbd lab down` can find what a crashed run left.
PREFIX = "hbl"
NAME_RE = re.compile(r"hbl[a-z0-9]{1,9}")  # fullmatch: a name is never a path (no '/', '..', newline)
MEDIA_NETS = (ipaddress.ip_network("192.0.2.0/24"), ipaddress.ip_network("198.51.100.0/24"))
CLIENT_HOST = 100
NODE_HOST_BASE = 10
MAX_NODES = 8
RESPONDER_PORT = 7777
DRBD_PORT = 7789
# Standard paths each node gets privately (bind-mounted from the lab's state directory).
NODE_DIRS = ("/etc/ha.d", "/etc/cluster", "/etc/drbd.d", "/var/lib/hbd", "/run/hbd", "/var/log/hbd")


def base_dir() -> Path:
    """Root of every lab's host-side state; on tmpfs so a reboot clears it."""
    return Path(os.environ.get("HBD_LAB_DIR", "/run/hbd-lab"))


def new_name() -> str:
    return PREFIX + secrets.token_hex(3)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ValueError(f"lab name {name[:80]!r}: must be 'hbl' followed by 1-9 lowercase letters or digits")
    return name


def is_name(name: str) -> bool:
    return bool(NAME_RE.fullmatch(name))


@dataclass(frozen=True)
class LabLayout:
    """Where everything of lab `name` lives; no I/O."""

    name: str
    nodes: tuple[str, ...]
    media: int

    @classmethod
    def make(cls, name: str, nodes: int, media: int) -> "LabLayout":
        if not 1 <= nodes <= MAX_NODES:
            raise ValueError(f"nodes must be 1..{MAX_NODES}, not {nodes}")
        if media not in (1, 2):
            raise ValueError(f"media must be 1 or 2, not {media}")
        return cls(check_name(name), tuple(f"n{i}" for i in range(1, nodes + 1)), media)

    # namespaces
    @property
    def switch_netns(self) -> str:
        return f"{self.name}-sw"

    @property
    def client_netns(self) -> str:
        return f"{self.name}-cl"

    def netns(self, node: str) -> str:
        self.check_node(node)
        return f"{self.name}-{node}"

    def check_node(self, node: str) -> None:
        if node not in self.nodes:
            raise ValueError(f"no node {node!r} in lab {self.name} (nodes: {', '.join(self.nodes)})")

    def check_medium(self, medium: int) -> None:
        if not 0 <= medium < self.media:
            raise ValueError(f"no medium {medium} in lab {self.name} (media 0..{self.media - 1})")

    # addresses
    def node_index(self, node: str) -> int:
        self.check_node(node)
        return int(node[1:])

    def address(self, node: str, medium: int = 0) -> str:
        self.check_medium(medium)
        return str(MEDIA_NETS[medium].network_address + NODE_HOST_BASE + self.node_index(node))

    @property
    def client_address(self) -> str:
        return str(MEDIA_NETS[0].network_address + CLIENT_HOST)

    def prefixlen(self, medium: int) -> int:
        return MEDIA_NETS[medium].prefixlen

    def mac(self, node: str, medium: int) -> str:
        # Locally administered and stable, so neighbour caches and captures read clearly.
        return f"02:48:42:00:{medium:02x}:{self.node_index(node):02x}"

    @property
    def client_mac(self) -> str:
        return "02:48:42:00:00:64"

    # interface names inside the switch namespace (private to it, so no clash between labs)
    @staticmethod
    def bridge(medium: int) -> str:
        return f"br{medium}"

    @staticmethod
    def switch_port(node: str, medium: int) -> str:
        return f"{node}e{medium}"

    @staticmethod
    def relay_port(node: str, medium: int) -> str:
        """Bridge-side port used while a userspace impairment relay sits between node and bridge."""
        return f"{node}r{medium}"

    @staticmethod
    def relay_inner(node: str, medium: int) -> str:
        return f"{node}q{medium}"

    CLIENT_PORT = "cle0"

    @staticmethod
    def node_iface(medium: int) -> str:
        return f"eth{medium}"

    # host paths
    @property
    def dir(self) -> Path:
        return base_dir() / self.name

    @property
    def state_file(self) -> Path:
        return self.dir / "lab.json"

    @property
    def bin_dir(self) -> Path:
        return self.dir / "bin"

    @property
    def drbd_dir(self) -> Path:
        return self.dir / "drbd"

    @property
    def disk_image(self) -> Path:
        return self.dir / "disk.img"

    def node_dir(self, node: str) -> Path:
        self.check_node(node)
        return self.dir / "nodes" / node

    def path(self, node: str, target: str) -> Path:
        """Host directory bind-mounted at `target` inside `node`."""
        if target not in NODE_DIRS:
            raise ValueError(f"{target} is not a per-node directory (have: {', '.join(NODE_DIRS)})")
        return self.node_dir(node) / target.strip("/").replace("/", "_")

    @property
    def client_dir(self) -> Path:
        return self.dir / "client"
