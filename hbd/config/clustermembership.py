"""Membership and quorum from a cluster.conf: the same HaCf + AuthKeys the ha.cf path gives the membership core
and the transport, plus the QuorumConfig of hbd/core/quorum.py. Rules (doc/cluster-membership.md):

- nodes: every `<clusternode name nodeid votes>`; the name is the node's heartbeat address (an IPv4
  address as written, else what the name resolves to, /etc/hosts first, as cman resolves it);
- media: a unicast heartbeat to every peer on the interface holding the local node's address, or one
  multicast group when `<cman><multicast addr="..." [ttl="N"]/></cman>` is given, or a broadcast when
  `<cman broadcast="yes"/>`; UDP port `<cman port>`, default 694 (Heartbeat's wire, not totem's 5405);
- timing: a silent node is dead after `<totem token="MS"/>`, default 10000 ms as cman sets it (corosync's
  own default is 1000 ms; cman raised it to 10 s); keepalive = token / 10 (at least 100 ms), warntime =
  token / 2, initdead as Heartbeat derives it from deadtime;
- key: the authkeys-format file `<cman keyfile="PATH"/>` names, else `authkeys` beside cluster.conf;
  without one the daemon refuses to run unless `<totem secauth="off"/>` asks for unauthenticated (crc)
  heartbeats, as corosync's secauth does;
- ha.cf beside cluster.conf: when present it must name the same nodes; its media and timing win over
  what cluster.conf gives (hbd's own file is the more specific one), and each override is a warning.
"""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hbd.config.authkeys import parse_authkeys
from hbd.config.hacf import DEFAULT_UDPPORT, LOW_KEEPALIVE_MS, read_hacf
from hbd.config.model import AuthKey, AuthKeys, HaCf, Medium, Timing
from hbd.core.quorum import QuorumConfig
from hbd.errors import Problems

CMAN_TOKEN_MS = 10000  # cman-preconfig.c: "token" unless cluster.conf's <totem> sets one
KEEPALIVES_PER_TOKEN = 10
DEFAULT_KEYFILE = "authkeys"  # beside cluster.conf
Resolve = Callable[[str], str | None]  # node name -> IPv4 address
Interfaces = Callable[[str], str | None]  # local address -> interface name


@dataclass(frozen=True)
class ClusterMembership:
    hacf: HaCf
    authkeys: AuthKeys
    quorum: QuorumConfig
    addresses: tuple[tuple[str, str], ...]  # (node, heartbeat address)
    unauthenticated: bool = False


def resolve_name(name: str) -> str | None:
    try:
        return str(ipaddress.IPv4Address(name))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_DGRAM)
    except (OSError, UnicodeError):
        return None
    return str(infos[0][4][0]) if infos else None


def interface_of(address: str) -> str | None:
    """The interface holding `address` on this machine (pyroute2), None when none does."""
    from hbd import pyroute2_lean  # noqa: F401  (first: pyroute2's modules without its package __init__)
    from pyroute2.iproute.linux import IPRoute

    with IPRoute() as ipr:
        for msg in ipr.get_addr(family=socket.AF_INET):
            if msg.get_attr("IFA_ADDRESS") == address or msg.get_attr("IFA_LOCAL") == address:
                index = msg["index"]
                links = ipr.get_links(index)
                return str(links[0].get_attr("IFLA_IFNAME")) if links else None
    return None


def token_timing(token_ms: int) -> Timing:
    keepalive = max(LOW_KEEPALIVE_MS, token_ms // KEEPALIVES_PER_TOKEN)
    initdead = token_ms if token_ms > 10000 else (12000 if token_ms < 6000 else 2 * token_ms)  # Heartbeat's rule
    return Timing(keepalive, token_ms, token_ms // 2, initdead, token_ms)


def _positive(element: Any, attr: str, file: str, problems: Problems) -> int | None:
    text = element.get(attr) if element is not None else None
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        problems.error(file, element.sourceline, f"<{element.tag} {attr}=\"{text}\">: not a positive whole number")
        return None
    return value


def _flag(text: str | None) -> bool:
    value = (text or "").strip().lower()
    return value in ("1", "yes", "on", "true")


def load_cluster_membership(root: Any, path: str | Path, local_node: str, problems: Problems, *,
                            resolve: Resolve | None = resolve_name,
                            interfaces: Interfaces | None = interface_of) -> ClusterMembership | None:
    """`root`: the parsed <cluster>. `resolve` and `interfaces` None: not on the node (names not resolved, no
    media built), the checks that hold anywhere only."""
    path = Path(path)
    file = str(path)
    first = len(problems.items)
    cman, totem = root.find("cman"), root.find("totem")
    nodes = list(root.iterfind("clusternodes/clusternode"))
    names = [n.get("name", "").lower() for n in nodes]
    votes = {name: (int(n.get("votes")) if (n.get("votes") or "").isdigit() else 1) for name, n in zip(names, nodes)}
    addresses: dict[str, str] = {}
    for name, node in zip(names, nodes):
        address = resolve(name) if resolve is not None else ""
        if not address and resolve is None:
            continue
        if address is None:
            problems.error(file, node.sourceline, f"node {name}: the name resolves to no IPv4 address (write the "
                                                  f"address as the name, or add it to /etc/hosts)")
        else:
            addresses[name] = address
    _quorum_checks(root, cman, names, votes, file, problems)
    token = _positive(totem, "token", file, problems) or CMAN_TOKEN_MS
    timing = token_timing(token)
    if token <= 2 * LOW_KEEPALIVE_MS:
        problems.error(file, totem.sourceline, f"<totem token=\"{token}\">: a silent node would be dead after less "
                                               f"than three heartbeats ({LOW_KEEPALIVE_MS} ms each); use at least 1000")
    port = _positive(cman, "port", file, problems) or DEFAULT_UDPPORT
    keys, unauthenticated = _keys(cman, totem, path, problems)
    local = local_node.lower()
    if local not in names:
        short = [n for n in names if n.split(".")[0] == local.split(".")[0]]
        if len(short) == 1:
            local = short[0]  # cman matches a name with or without its domain
        else:
            problems.error(file, None, f"this node ({local_node}) is not a <clusternode> (nodes: {', '.join(names)}; "
                                       "the local name is `uname -n` or --node)")
    media = _media(cman, local, names, addresses, port, file, problems, interfaces)
    if any(p.severity == "error" for p in problems.items[first:]) or keys is None:
        return None
    hacf = HaCf(path=file, nodes=tuple(names), local_node=local, timing=timing, media=tuple(media), udpport=port,
                auto_failback="off")
    beside = _beside(hacf, path.parent / "ha.cf", token if totem is not None and totem.get("token") else None,
                     problems)
    if beside is None:
        return None
    hacf = beside
    expected = _positive(cman, "expected_votes", file, problems)
    quorum = QuorumConfig.of(votes, expected, cman is not None and _flag(cman.get("two_node")))
    return ClusterMembership(hacf, keys, quorum, tuple(addresses.items()), unauthenticated)


def _quorum_checks(root: Any, cman: Any, names: list[str], votes: dict[str, int], file: str,
                   problems: Problems) -> None:
    line = cman.sourceline if cman is not None else None
    two_node = cman is not None and _flag(cman.get("two_node"))
    expected = _positive(cman, "expected_votes", file, Problems())  # the schema reports a bad value
    total = sum(votes.values())
    if two_node and (len(names) != 2 or total != 2):
        problems.error(file, line, f"two_node=\"1\" needs exactly two nodes of one vote each (cman refuses it "
                                   f"otherwise); there are {len(names)} with {total} votes")
        return
    config = QuorumConfig.of(votes, expected, two_node)
    if not config.reachable:
        problems.warning(file, line, f"expected_votes=\"{expected}\" needs {(config.expected_votes + 2) // 2} votes "
                                     f"for quorum but the nodes have {total}: the cluster is never quorate and "
                                     "runs no service")
    elif not two_node and expected is not None and (expected + 2) // 2 * 2 <= total:
        problems.warning(file, line, f"expected_votes=\"{expected}\" is below the {total} votes of the nodes: "
                                     "until more votes have joined, two partitions can each be quorate")
    if two_node and not _has_fencing(root):
        problems.warning(file, line, "two_node=\"1\" without fencing: after a split both nodes keep quorum, and "
                                     "nothing stops both from running the same service (add <fence> methods)")


def _has_fencing(root: Any) -> bool:
    return any(True for _ in root.iterfind("clusternodes/clusternode/fence/method/device"))


def _keys(cman: Any, totem: Any, path: Path, problems: Problems) -> tuple[AuthKeys | None, bool]:
    named = cman.get("keyfile") if cman is not None else None
    keyfile = Path(named) if named else path.parent / DEFAULT_KEYFILE
    if not named and not keyfile.exists() and totem is not None and totem.get("secauth", "").lower() in ("off", "0",
                                                                                                        "no"):
        problems.warning(str(path), totem.sourceline, "<totem secauth=\"off\">: heartbeats are not authenticated "
                                                      "(crc only); anyone on the network can forge membership")
        return AuthKeys(str(keyfile), 1, (AuthKey(1, "crc", b""),)), True
    if not keyfile.exists():
        line = cman.sourceline if named else None
        problems.error(str(path), line, f"no key file {keyfile} (authkeys format: `auth 1` and `1 sha256 SECRET`); "
                                        f"create it, name another with <cman keyfile=\"PATH\"/>, or ask for "
                                        f"unauthenticated heartbeats with <totem secauth=\"off\"/>")
        return None, False
    return parse_authkeys(keyfile, problems), False


def _media(cman: Any, local: str, names: list[str], addresses: dict[str, str], port: int, file: str,
           problems: Problems, interfaces: Interfaces | None) -> list[Medium]:
    if interfaces is None or local not in addresses:
        return []
    own = addresses[local]
    interface = interfaces(own)
    if interface is None:
        problems.error(file, None, f"this node's address {own} ({local}) is on no interface of this machine")
        return []
    mcast = cman.find("multicast") if cman is not None else None
    if mcast is not None and mcast.get("addr"):
        group = mcast.get("addr")
        try:
            if not ipaddress.IPv4Address(group).is_multicast:
                raise ValueError
        except ValueError:
            problems.error(file, mcast.sourceline, f"<multicast addr=\"{group}\">: not an IPv4 multicast address")
            return []
        ttl = _positive(mcast, "ttl", file, problems) or 1
        return [Medium("mcast", interface, port, group, ttl, False, mcast.sourceline)]
    if cman is not None and _flag(cman.get("broadcast")):
        return [Medium("bcast", interface, port, None, None, None, cman.sourceline)]
    return [Medium("ucast", interface, port, addresses[n], None, None, None)
            for n in names if n != local and n in addresses]


def _beside(hacf: HaCf, hacf_path: Path, token: int | None, problems: Problems) -> HaCf | None:
    """ha.cf in the same directory: the same nodes, and its media and timing win."""
    if not hacf_path.is_file():
        return hacf
    other, _ = read_hacf(hacf_path, problems, hacf.local_node)
    if other is None:
        return None
    if set(other.nodes) != set(hacf.nodes):
        line = next((d.line for d in other.directives if d.name == "node"), None)
        problems.error(str(hacf_path), line, f"ha.cf names nodes {', '.join(other.nodes)} but cluster.conf "
                                             f"{', '.join(hacf.nodes)}: they must be the same")
        return None
    timed = [d for d in other.directives if d.name in ("keepalive", "deadtime", "warntime", "initdead")]
    if token is not None and any(d.name == "deadtime" for d in timed):
        line = next(d.line for d in timed if d.name == "deadtime")
        problems.warning(str(hacf_path), line, f"deadtime {other.timing.deadtime_ms} ms here overrides cluster.conf's "
                                               f"<totem token=\"{token}\">")
    timing = other.timing if timed else hacf.timing
    return replace(hacf, timing=timing, media=other.media, udpport=other.udpport)


__all__ = ["CMAN_TOKEN_MS", "ClusterMembership", "load_cluster_membership", "token_timing"]
