"""What the daemon refuses to run, and what cannot work on this node: one list for `hbd config check` and the daemon.

`hbd config check` and the daemon both call `check(cfg, on_node)`, so what config check calls usable is
what the daemon runs, and what the daemon refuses config check refuses with the same file, line and text.

Two kinds of finding:
- refusals that hold on any machine (REFUSALS): a cluster.conf (the daemon runs haresources only, for
  now), not exactly two nodes, IPv6 media, a resource whose arguments no agent accepts (an address
  .300, drbddisk without a resource name);
- node-local facts (NODE_CHECKS), checked only on the node itself (the daemon always; config check when
  the local node is this machine): a medium's or an address's interface that does not exist is an
  error (the daemon cannot send or place the address); a script that is not installed or a DRBD
  resource that is not defined is a warning (the daemon runs, but that group cannot start here).
"""
from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

from hbd.config import LoadedConfig, service_roots
from hbd.config.model import HeartbeatConfig, ResourceNode
from hbd.config.textfile import NotReadable, read_bounded
from hbd.errors import AgentError, Problem

RUN_MEDIA = ("bcast", "mcast", "ucast")  # the media the transport runs
DRBD_CONFIG = (Path("/etc/drbd.conf"), Path("/etc/drbd.d"))
_DRBD_RESOURCE = re.compile(r"^\s*resource\s+(\S+)\s*\{", re.MULTILINE)
MAX_DRBD_CONFIG_BYTES = 1 << 20


def _error(file: str, line: int | None, text: str) -> Problem:
    return Problem(file, line, "error", text)


def _warning(file: str, line: int | None, text: str) -> Problem:
    return Problem(file, line, "warning", text)


# --- refusals on any machine ---------------------------------------------------------------------

def refuse_cluster_conf(cfg: LoadedConfig) -> list[Problem]:
    """cluster.conf's membership and quorum settings are checked (hbd/config/clustermembership.py); the daemon
    still refuses the file: the runtime that runs membership, quorum and <rm> services from it is missing."""
    if cfg.heartbeat is not None:
        return []
    from hbd.config.clusterconf import parse_xml
    from hbd.config.clustermembership import load_cluster_membership
    from hbd.errors import ConfigError, Problems

    found = Problems()
    try:
        root = parse_xml(Path(cfg.path), found)
        nodes = [n.get("name", "") for n in root.iterfind("clusternodes/clusternode")]
        if nodes:  # any configured name: the checks here hold on every node (no name lookup, no interfaces)
            load_cluster_membership(root, cfg.path, nodes[0], found, resolve=None, interfaces=None)
    except ConfigError:
        pass  # the loader reported it already
    return list(found.items) + [_error(cfg.path, None, "the daemon runs from ha.cf, authkeys and haresources "
                                       "(cluster.conf is not supported by the daemon yet: membership and quorum "
                                       "settings are checked, but the daemon cannot run cluster.conf membership, "
                                       "quorum and <rm> services yet; `hbd test` reads it)")]


def refuse_node_count(cfg: LoadedConfig) -> list[Problem]:
    hacf = cfg.heartbeat.hacf if cfg.heartbeat else None
    if hacf is None or len(hacf.peers) == 1:
        return []
    line = next((d.line for d in hacf.directives if d.name == "node"), None)
    return [_error(hacf.path, line, f"hbd manages resources for exactly two nodes (node lines name "
                                    f"{len(hacf.nodes)}: {', '.join(hacf.nodes)})")]


def refuse_media(cfg: LoadedConfig) -> list[Problem]:
    hacf = cfg.heartbeat.hacf if cfg.heartbeat else None
    if hacf is None:
        return []
    return [_error(hacf.path, m.line, f"medium {m.kind} {m.interface} is not supported by hbd yet "
                                      f"(use {', '.join(RUN_MEDIA)})")
            for m in hacf.media if m.kind not in RUN_MEDIA]


def _resources(cfg: LoadedConfig) -> Iterator[tuple[HeartbeatConfig, str, int | None, ResourceNode]]:
    """(config, file, line, resource) for every resource of every haresources group."""
    hb = cfg.heartbeat
    if hb is None:
        return
    for group, root in zip(hb.groups, service_roots(cfg)):
        stack = list(reversed(root.children))
        while stack:
            node = stack.pop()
            yield hb, group.file, group.line, node
            stack.extend(reversed(node.children))


def _resolve(node: ResourceNode) -> object:
    from hbd.agents.registry import Registry  # the agents the daemon's group runner will use

    return Registry(background_burst=False).resolve(node)


def _is_builtin(node: ResourceNode) -> bool:
    from hbd.agents.registry import BUILTIN

    return node.type in BUILTIN or node.type.startswith("ocf:")


def refuse_bad_arguments(cfg: LoadedConfig) -> list[Problem]:
    """Built-in agents whose arguments are wrong wherever they run (the scripts' own are node-local)."""
    out = []
    for _, file, line, node in _resources(cfg):
        if not _is_builtin(node):
            continue
        try:
            _resolve(node)
        except AgentError as exc:
            out.append(_error(file, line, f"resource {node.primary}: {exc}"))
    return out


REFUSALS: tuple[Callable[[LoadedConfig], list[Problem]], ...] = (
    refuse_cluster_conf, refuse_node_count, refuse_media, refuse_bad_arguments)


# --- node-local facts ----------------------------------------------------------------------------

def _has_interface(name: str) -> bool:
    try:
        socket.if_nametoindex(name)
    except OSError:
        return False
    return True


def missing_interfaces(cfg: LoadedConfig) -> list[Problem]:
    hacf = cfg.heartbeat.hacf if cfg.heartbeat else None
    out = []
    for medium in hacf.media if hacf else ():
        if not _has_interface(medium.interface):
            out.append(_error(hacf.path, medium.line, f"{medium.kind} {medium.interface}: there is no interface "  # type: ignore[union-attr]
                                                      f"{medium.interface} on this node; the daemon cannot start here"))
    for _, file, line, node in _resources(cfg):
        if node.type not in ("IPaddr", "IPaddr2"):
            continue
        try:
            spec = _resolve(node).spec  # type: ignore[attr-defined]
        except AgentError:
            continue  # a refusal already
        if spec.iface and not _has_interface(spec.iface):
            out.append(_error(file, line, f"resource {node.primary}: there is no interface {spec.iface} on this "
                                          f"node; the address cannot be placed here"))
    return out


def defined_drbd_resources(places: tuple[Path, ...] | None = None) -> set[str] | None:
    """Resource names of this node's DRBD configuration; None when it has none at all."""
    files: list[Path] = []
    for place in DRBD_CONFIG if places is None else places:
        if place.is_dir():
            files += sorted(place.glob("*.res"))
        elif place.is_file():
            files.append(place)
    if not files:
        return None
    names: set[str] = set()
    for path in files:
        try:
            text = read_bounded(path, MAX_DRBD_CONFIG_BYTES).decode("utf-8", "replace")
        except (OSError, NotReadable):
            continue
        names.update(_DRBD_RESOURCE.findall(text))
    return names


def missing_scripts_and_resources(cfg: LoadedConfig) -> list[Problem]:
    from hbd.agents.drbddisk import Drbddisk

    out = []
    drbd: set[str] | None | bool = False  # False: not read yet
    for hb, file, line, node in _resources(cfg):
        try:
            agent = _resolve(node)
        except AgentError as exc:
            if not _is_builtin(node):
                out.append(_warning(file, line, f"on this node: {exc}; the group cannot start here"))
            continue
        if isinstance(agent, Drbddisk):
            if drbd is False:
                drbd = defined_drbd_resources()
            if drbd is None:
                out.append(_warning(file, line, f"on this node: {node.primary}: no DRBD configuration "
                                                f"(/etc/drbd.conf, /etc/drbd.d/*.res); the group cannot start here"))
            elif agent.resource not in drbd:  # type: ignore[operator]
                out.append(_warning(file, line, f"on this node: {node.primary}: DRBD resource {agent.resource} is "
                                                f"not defined in /etc/drbd.conf or /etc/drbd.d/*.res; the group "
                                                f"cannot start here"))
    return out


NODE_CHECKS: tuple[Callable[[LoadedConfig], list[Problem]], ...] = (missing_interfaces, missing_scripts_and_resources)


def check(cfg: LoadedConfig, on_node: bool = True) -> list[Problem]:
    """Every refusal, then (on the node itself) every node-local finding; errors mean the daemon refuses."""
    out = [p for rule in REFUSALS for p in rule(cfg)]
    if on_node and not any(p.severity == "error" for p in out):
        out += [p for rule in NODE_CHECKS for p in rule(cfg)]
    return out
