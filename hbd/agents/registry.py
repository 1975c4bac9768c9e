"""Resolve a configured resource to its agent.

haresources (type = agent name, `args` attribute = the `::` arguments): hbd's built-in agents first
(IPaddr2, IPaddr, Filesystem, drbddisk), then `/etc/ha.d/resource.d/NAME`, then `/etc/init.d/NAME`,
and `ocf:PROVIDER:TYPE` with `name=value` arguments for OCF agents.
cluster.conf (type = element name): ip, fs, drbd, script, service (a container), and any other type
through an OCF agent of that name under the OCF root (provider redhat, then heartbeat, then others).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hbd.agents import drbddisk, ipaddr_spec
from hbd.agents.base import Agent, AgentResult, Deadline, running, stopped
from hbd.agents.heartbeat_class import RESOURCE_DIR, HeartbeatScriptAgent
from hbd.agents.lsb import INIT_DIR, LsbAgent
from hbd.agents.ocf import OCF_ROOT, OcfAgent
from hbd.config.model import ResourceNode
from hbd.errors import AgentError

def _module(name: str) -> Any:
    """IPaddr2 (pyroute2, scapy) and Filesystem (pyudev) are imported when first used: a group of
    scripts does not pay half a second of imports for them."""
    return importlib.import_module(f"hbd.agents.{name}")


CLUSTER_TYPES = ("ip", "fs", "drbd", "script", "service")
CONTAINER_TYPES = ("service", "group", "vm")
BUILTIN = ("IPaddr2", "IPaddr", "Filesystem", "drbddisk")


class ContainerAgent(Agent):
    """A container (rgmanager `service`, a haresources group): ordering and policy, no work of its own."""

    kind = "container"

    def __init__(self, type_: str, name: str):
        self.type, self.name = type_, name

    @property
    def label(self) -> str:
        return f"{self.type}:{self.name}"

    def start(self, deadline: Deadline) -> AgentResult:
        return running("start")

    def stop(self, deadline: Deadline) -> AgentResult:
        return stopped("stop")

    def status(self, deadline: Deadline) -> AgentResult:
        return running("status")


@dataclass(frozen=True)
class Registry:
    resource_dir: Path = RESOURCE_DIR
    init_dir: Path = INIT_DIR
    ocf_root: Path = OCF_ROOT
    status_by_output: bool = False  # Heartbeat's "status prints running/OK" rule for resource.d scripts
    background_burst: bool = True  # False: the caller detaches the rest of the ARP burst itself
    use_builtins: bool = True  # False: a resource.d script of the same name runs instead of hbd's own agent

    def builtin(self, name: str, args: tuple[str, ...], attrs: dict[str, str | None]) -> Agent:
        if name in ("IPaddr2", "IPaddr"):
            if len(args) != 1:
                raise AgentError(f"{name}: expected one argument ip[/netmask[/interface[:label]][/broadcast]]")
            spec = ipaddr_spec.parse_heartbeat(args[0])
            spec = ipaddr_spec.with_hbd_settings(ipaddr_spec.as_ipaddr(spec) if name == "IPaddr" else spec, attrs)
            agent: Agent = _module("ipaddr2").IPaddr2(spec, background_burst=self.background_burst)
            return agent
        if name == "Filesystem":
            fs = _module("filesystem")
            agent = fs.Filesystem(fs.parse_heartbeat(args))
            return agent
        if len(args) != 1:
            raise AgentError("drbddisk: a single DRBD resource name is required")
        return drbddisk.Drbddisk(args[0])

    def for_haresource(self, name: str, args: tuple[str, ...], attrs: dict[str, str | None] | None = None) -> Agent:
        attrs = attrs or {}
        if name in BUILTIN and self.use_builtins:
            return self.builtin(name, args, attrs)
        if name.startswith("ocf:"):
            return self._ocf(name, args)
        if "/" in name or name in ("", ".", ".."):
            raise AgentError(f"bad resource script name '{name}'")
        for folder in (self.resource_dir, self.init_dir):
            path = folder / name
            if path.is_file():
                if folder == self.init_dir and not args:
                    return LsbAgent(path)
                return HeartbeatScriptAgent(path, args, status_by_output=self.status_by_output)
        raise AgentError(f"Cannot locate resource script {name} (looked in built-ins, {self.resource_dir}, "
                         f"{self.init_dir})")

    def _ocf(self, name: str, args: tuple[str, ...]) -> OcfAgent:
        parts = name.split(":")
        if len(parts) != 3:
            raise AgentError(f"bad OCF agent name '{name}': expected ocf:PROVIDER:TYPE")
        params = {}
        for arg in args:
            key, sep, value = arg.partition("=")
            if not sep or not key.isidentifier():
                raise AgentError(f"{name}: argument '{arg}' is not name=value")
            params[key] = value
        return OcfAgent(parts[1], parts[2], params, root=self.ocf_root)

    def for_cluster_node(self, node: ResourceNode) -> Agent:
        attrs = dict(node.attrs)
        kind = node.type
        if kind in CONTAINER_TYPES:
            return ContainerAgent(kind, node.primary)
        if kind == "ip":
            spec = ipaddr_spec.parse_cluster_attrs(attrs)
            agent: Agent = _module("ipaddr2").IPaddr2(spec, background_burst=self.background_burst)
            return agent
        if kind == "fs":
            fs = _module("filesystem")
            agent = fs.Filesystem(fs.parse_cluster_attrs(attrs))
            return agent
        if kind == "drbd":
            resource = attrs.get("resource")
            if not resource:
                raise AgentError(f"drbd:{node.primary}: the resource attribute is required")
            return drbddisk.Drbddisk(resource)
        if kind == "script":
            file = attrs.get("file")
            if not file:
                raise AgentError(f"script:{node.primary}: the file attribute is required")
            return LsbAgent(file, node.primary)
        params = {k: v for k, v in attrs.items() if v is not None}
        for provider in self._providers():
            if (self.ocf_root / "resource.d" / provider / kind).is_file():
                return OcfAgent(provider, kind, params, instance=f"{kind}:{node.primary}", root=self.ocf_root)
        raise AgentError(f"no agent for resource type '{kind}' ({node.ident})")

    def _providers(self) -> list[str]:
        """OCF providers, redhat and heartbeat first (rgmanager's and Heartbeat's agents), then by name."""
        try:
            found = sorted(p.name for p in (self.ocf_root / "resource.d").iterdir() if p.is_dir())
        except OSError:
            return []
        return sorted(found, key=lambda p: (p not in ("redhat", "heartbeat"), p != "redhat", p))

    def resolve(self, node: ResourceNode) -> Agent:
        """The agent for a resource-tree node of either configuration format."""
        args_text = node.attr("args")
        if node.type in CLUSTER_TYPES or node.type in CONTAINER_TYPES or (args_text is None and node.attrs):
            return self.for_cluster_node(node)
        args = tuple(args_text.split("::")) if args_text else ()
        return self.for_haresource(node.type, args)
