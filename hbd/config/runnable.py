"""What the daemon refuses to run, and what cannot work on this node: one list for `hbd config check` and the daemon.

`hbd config check` and the daemon both call `check(cfg, on_node)`, so what config check calls usable is
what the daemon runs, and what the daemon refuses config check refuses with the same file, line and text.

Two kinds of finding:
- refusals that hold on any machine (REFUSALS): for a cluster.conf, what its membership settings lack (a
  key file) and what the daemon does not run (more than 5 nodes, a <vm> tree); for ha.cf, not exactly
  two nodes (the haresources ownership core is a two-node one), IPv6 media; in either format, a resource
  whose arguments no agent accepts (an address .300, drbddisk without a resource name);
- node-local facts (NODE_CHECKS), checked only on the node itself (the daemon always; config check when
  the local node is this machine): a medium's or an address's interface that does not exist is an
  error (the daemon cannot send or place the address), and so are media that are all ucasts to this
  node's own addresses (it would send no heartbeat at all); a script that is not installed or a DRBD
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

MAX_CLUSTER_NODES = 5  # the services core is simulated with 2 to 5 nodes (tests/sim/test_service_sim.py)


def refuse_cluster_conf(cfg: LoadedConfig) -> list[Problem]:
    """cluster.conf: the membership and quorum checks that hold on every node (hbd/config/clustermembership.py;
    the daemon repeats them on the node with names resolved and interfaces found), then what the daemon does not
    run: more than MAX_CLUSTER_NODES nodes, a top-level resource tree that is not a <service> (vm), a medium of
    ha.cf beside it that the transport does not run, services whose messages would not fit one datagram
    (hbd/core/service_wire.py). Warned: what runs differently from rgmanager."""
    if cfg.heartbeat is not None or cfg.cluster is None:
        return []
    from hbd.config.clusterconf import parse_xml
    from hbd.config.clustermembership import load_cluster_membership
    from hbd.errors import ConfigError, Problems

    found = Problems()
    built = None
    try:
        root = parse_xml(Path(cfg.path), found)
        nodes = [n.get("name", "") for n in root.iterfind("clusternodes/clusternode")]
        if nodes:  # any configured name: the checks here hold on every node (no name lookup, no interfaces)
            built = load_cluster_membership(root, cfg.path, nodes[0], found, resolve=None, interfaces=None)
    except ConfigError:
        return list(found.items)  # the loader reported it already
    out = list(found.items)
    conf = cfg.cluster
    count = len(conf.nodes)  # type: ignore[attr-defined]
    if count > MAX_CLUSTER_NODES:
        out.append(_error(cfg.path, conf.nodes[MAX_CLUSTER_NODES].line,  # type: ignore[attr-defined]
                          f"{count} <clusternode>s: hbd runs services on at most {MAX_CLUSTER_NODES} nodes"))
    for tree in conf.roots:  # type: ignore[attr-defined]
        if tree.type != "service":
            out.append(_error(cfg.path, tree.line, f"<{tree.type} name=\"{tree.primary}\">: hbd runs <service> "
                                                   f"trees only (not {tree.type})"))
    if built is not None:
        out += [_error(built.hacf.path, m.line, f"medium {m.kind} {m.interface} is not supported by hbd yet "
                                                f"(use {', '.join(RUN_MEDIA)})")
                for m in built.hacf.media if m.kind not in RUN_MEDIA]
    if conf.catalog is not None:  # type: ignore[attr-defined]
        from hbd.core.service_wire import check_catalog

        out += [_error(cfg.path, None, f"services on the heartbeat media: {text}")
                for text in check_catalog(conf.catalog)]  # type: ignore[attr-defined]
    for spec in conf.catalog.services if conf.catalog is not None else ():  # type: ignore[attr-defined]
        if spec.enforce_timeouts:  # rgmanager reads the flag per resource: on <service>, it bounds service.sh only
            out.append(_warning(cfg.path, spec.line, f"service {spec.name}: __enforce_timeouts on the <service> "
                                                     "bounds none of its resources (the flag is per resource, as in "
                                                     "rgmanager): set it on each resource whose timeouts should be "
                                                     "enforced"))
        for subtree in spec.independent:
            if subtree.non_critical:
                out.append(_warning(cfg.path, spec.line, f"service {spec.name}: {subtree.ident} is non-critical "
                                                         "(__independent_subtree=\"2\"): hbd restarts it like an "
                                                         "independent subtree; rgmanager would leave it stopped"))
    return out


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


def _resources(cfg: LoadedConfig) -> Iterator[tuple[HeartbeatConfig | None, str, int | None, ResourceNode]]:
    """(config, file, line, resource) for every resource of every haresources group or cluster.conf tree."""
    hb = cfg.heartbeat
    if hb is None:
        for root in service_roots(cfg) if cfg.cluster is not None else ():
            stack = [root]
            while stack:
                node = stack.pop()
                yield None, cfg.path, node.line, node
                stack.extend(reversed(node.children))
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

    return node.type in BUILTIN or node.type in ("ip", "fs", "drbd") or node.type.startswith("ocf:")


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


def is_local_address(address: str) -> bool:
    """Whether `address` is an address of this node (the transport sends nothing on a ucast to it)."""
    try:
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    except OSError:
        return False
    try:
        probe.bind((address, 0))  # binding succeeds only for an address of this host
        return True
    except OSError:
        return False
    finally:
        probe.close()


def media_that_cannot_send(cfg: LoadedConfig) -> list[Problem]:
    """A node whose every medium is a ucast to one of its own addresses sends no heartbeat at all: its peer
    would never hear it, and it would take the resources over after initdead. (A ucast line naming this node
    is normal in an ha.cf shared by both nodes: receive only here, as in Heartbeat; it is the only one.)"""
    hacf = cfg.heartbeat.hacf if cfg.heartbeat else None
    if hacf is None or not hacf.media:
        return []
    if any(m.kind != "ucast" or m.address is None or not is_local_address(m.address) for m in hacf.media):
        return []
    first = hacf.media[0]
    return [_error(hacf.path, first.line, f"no medium sends from this node: every medium is a ucast to this "
                                          f"node's own address ({', '.join(str(m.address) for m in hacf.media)}), "
                                          f"which is receive only; add a ucast to the peer, a bcast or an mcast")]


def missing_interfaces(cfg: LoadedConfig) -> list[Problem]:
    hacf = cfg.heartbeat.hacf if cfg.heartbeat else None
    out = []
    for medium in hacf.media if hacf else ():
        if not _has_interface(medium.interface):
            out.append(_error(hacf.path, medium.line, f"{medium.kind} {medium.interface}: there is no interface "  # type: ignore[union-attr]
                                                      f"{medium.interface} on this node; the daemon cannot start here"))
    for _, file, line, node in _resources(cfg):
        if node.type not in ("IPaddr", "IPaddr2", "ip"):
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


NODE_CHECKS: tuple[Callable[[LoadedConfig], list[Problem]], ...] = (
    missing_interfaces, media_that_cannot_send, missing_scripts_and_resources)


def check(cfg: LoadedConfig, on_node: bool = True) -> list[Problem]:
    """Every refusal, then (on the node itself) every node-local finding; errors mean the daemon refuses."""
    out = [p for rule in REFUSALS for p in rule(cfg)]
    if on_node and not any(p.severity == "error" for p in out):
        out += [p for rule in NODE_CHECKS for p in rule(cfg)]
    return out
