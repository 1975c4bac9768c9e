"""Load a Red Hat cluster suite `cluster.conf` into an immutable ClusterConf (strict XML, schema, rgmanager rules).

Steps: parse with lxml (a not-well-formed file is one problem naming the line libxml2 reports, then
ConfigError); check it against the schema (hbd/config/cluster.rng and the rule table); build the resource
list and trees exactly as rg_test does (hbd.config.clustertree); check failover domains and node names.

About rgmanager's loader quirks (an entry without its primary attribute silently ends the list of its
type, or ends the untyped pass of its parent with `No resource found @ ...`; `Max references exceeded`
names the attribute instead of its value): the trees and messages copy them, so `hbd test` prints what
rg_test prints for the same file. hbd never runs such a tree, though: the missing attribute is a schema
error and the extra reference an error, so `hbd config check` and the daemon reject the file.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from hbd.config.clusterschema import validate
from hbd.config.clustertree import Resource, build_trees
from hbd.config.model import ResourceNode
from hbd.config.textfile import NotReadable, read_bounded
from hbd.config.rules import Rule, builtin_rules
from hbd.config.services import service_catalog
from hbd.core.service_model import Catalog
from hbd.errors import Problems
from hbd.fencing.from_cluster import fence_plans
from hbd.fencing.model import FencePlan

_LOCATION_SUFFIX = re.compile(r", line \d+, column \d+$")
MAX_BYTES = 16 * 1024 * 1024  # far above any real cluster.conf; protects the parser from a wrong path


@dataclass(frozen=True)
class ClusterNode:
    name: str
    nodeid: int | None
    votes: int
    line: int | None


@dataclass(frozen=True)
class DomainNode:
    name: str
    priority: int  # 0 = unprioritised (also every node of an unordered domain)
    line: int | None


@dataclass(frozen=True)
class FailoverDomain:
    name: str
    ordered: bool
    restricted: bool
    nofailback: bool
    nodes: tuple[DomainNode, ...]
    line: int | None


@dataclass(frozen=True)
class ClusterConf:
    path: str
    name: str
    config_version: int | None
    nodes: tuple[ClusterNode, ...]
    roots: tuple[ResourceNode, ...]
    resources: tuple[Resource, ...]
    domains: tuple[FailoverDomain, ...]
    messages: tuple[str, ...]  # rg_test's Error:/Warning:/No resource found lines, in order
    two_node: bool = False
    expected_votes: int | None = None
    notes: tuple[str, ...] = ()  # what rg_test prints on stderr while loading (`Replacing action ...`)
    fence_plans: tuple[FencePlan, ...] = ()  # each <clusternode>'s <fence> methods (hbd/fencing/from_cluster.py)
    catalog: Catalog | None = None  # the services as the service cores read them (hbd/config/services.py)

    def root(self, rtype: str, name: str) -> ResourceNode | None:
        return next((r for r in self.roots if r.type == rtype and r.primary == name), None)

    def resource(self, rtype: str, primary: str) -> Resource | None:
        """The resource behind a tree node (type and primary value), with its effective actions."""
        return next((r for r in self.resources if r.type == rtype and r.primary == primary), None)

    def find(self, rtype: str, name: str, rules: dict[str, Rule] | None = None) -> Resource | None:
        """rgmanager's lookup of `TYPE NAME`: by primary value, else by an attribute both unique and required."""
        found = self.resource(rtype, name)
        rule = (builtin_rules() if rules is None else rules).get(rtype)
        if found is not None or rule is None:
            return found
        keys = {p.name for p in rule.params if p.unique and p.required}
        return next((r for r in self.resources if r.type == rtype and any(
            a.name in keys and a.value == name and not a.inherited for a in r.attrs)), None)


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _flag(text: str | None) -> bool:
    value = (text or "").strip().lower()
    return value.startswith("y") or (value.isdigit() and int(value) > 0)


def parse_xml(path: Path, problems: Problems) -> Any:
    """Parse strictly; on failure record `not well-formed` with libxml2's line and raise ConfigError."""
    try:
        data = read_bounded(path, MAX_BYTES + 1)  # no FIFO, no device: nothing that blocks or never ends
    except OSError as exc:
        raise problems.fail(path, None, f"cannot read: {exc.strerror or exc}") from None
    except NotReadable as exc:
        raise problems.fail(path, None, f"cannot read: {exc}") from None
    if len(data) > MAX_BYTES:
        raise problems.fail(path, None, f"larger than {MAX_BYTES} bytes: not a cluster.conf")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        # exc.error_log may also hold older entries of this thread's log (a previous schema check)
        text = _LOCATION_SUFFIX.sub("", str(exc.msg or exc)).strip()
        raise problems.fail(path, exc.lineno or None, f"not well-formed XML: {text}") from None
    except (etree.LxmlError, ValueError) as exc:
        raise problems.fail(path, None, f"not well-formed XML: {exc}") from None


def _nodes(root: Any) -> tuple[ClusterNode, ...]:
    return tuple(
        ClusterNode(n.get("name", ""), _int(n.get("nodeid")), _int(n.get("votes")) or 1, n.sourceline)
        for n in root.iterfind("clusternodes/clusternode")
    )


def _domains(rm: Any) -> tuple[FailoverDomain, ...]:
    out = []
    for d in rm.iterfind("failoverdomains/failoverdomain"):
        ordered = _flag(d.get("ordered"))
        nodes = tuple(
            DomainNode(n.get("name", ""), (_int(n.get("priority")) or 0) if ordered else 0, n.sourceline)
            for n in d.iterfind("failoverdomainnode")
        )
        out.append(FailoverDomain(d.get("name", ""), ordered, _flag(d.get("restricted")),
                                  _flag(d.get("nofailback")), nodes, d.sourceline))
    return tuple(out)


def _check_names(file: str, nodes: tuple[ClusterNode, ...], domains: tuple[FailoverDomain, ...],
                 roots: tuple[ResourceNode, ...], problems: Problems) -> None:
    seen: dict[str, ClusterNode] = {}
    ids: dict[int, ClusterNode] = {}
    for node in nodes:
        if node.name in seen:
            problems.error(file, node.line, f"node {node.name} is listed twice (first at line {seen[node.name].line})")
        elif node.nodeid is not None and node.nodeid in ids:
            problems.error(file, node.line, f"nodeid {node.nodeid} is used twice (first by {ids[node.nodeid].name})")
        seen.setdefault(node.name, node)
        if node.nodeid is not None:
            ids.setdefault(node.nodeid, node)
    names: dict[str, FailoverDomain] = {}
    for dom in domains:
        if dom.name in names:
            problems.error(file, dom.line, f"failover domain {dom.name} is defined twice "
                                           f"(first at line {names[dom.name].line})")
        names.setdefault(dom.name, dom)
        members: set[str] = set()
        for member in dom.nodes:
            if member.name not in seen:
                problems.error(file, member.line, f"failover domain {dom.name} names node {member.name}, "
                                                  "which is not a <clusternode>")
            elif member.name in members:
                problems.error(file, member.line, f"node {member.name} is listed twice in failover domain {dom.name}")
            members.add(member.name)
    for root in roots:
        domain = root.attr("domain")
        if domain and domain not in names:
            problems.error(file, root.line, f"{root.ident} names failover domain {domain}, which is not defined")


def load_cluster_conf(path: str | Path, problems: Problems, rules: dict[str, Rule] | None = None) -> ClusterConf:
    """Load cluster.conf; problems gets every finding; raises ConfigError only when XML cannot be parsed."""
    path = Path(path)
    file = str(path)
    table = builtin_rules() if rules is None else rules
    root = parse_xml(path, problems)
    validate(root, file, problems, table)
    rm = root.find("rm") if root.tag == "cluster" else None
    if rm is not None:
        built = build_trees(rm, file, problems, table)
        roots, resources, messages = tuple(built.roots), tuple(built.resources), tuple(built.messages)
        domains, notes = _domains(rm), tuple(built.notes)
    else:
        roots, resources, messages, domains, notes = (), (), (), (), ()
    nodes = _nodes(root) if root.tag == "cluster" else ()
    _check_names(file, nodes, domains, roots, problems)
    catalog = service_catalog(rm, [(n.name, n.nodeid, n.votes) for n in nodes], file, problems, table)
    cman = root.find("cman") if root.tag == "cluster" else None
    return ClusterConf(
        path=file,
        name=root.get("name", ""),
        config_version=_int(root.get("config_version")),
        nodes=nodes,
        roots=roots,
        resources=resources,
        domains=domains,
        messages=messages,
        two_node=cman is not None and _flag(cman.get("two_node")),
        expected_votes=_int(cman.get("expected_votes")) if cman is not None else None,
        notes=notes,
        fence_plans=fence_plans(root, file, problems),
        catalog=catalog,
    )


__all__ = ["ClusterConf", "ClusterNode", "DomainNode", "FailoverDomain", "load_cluster_conf"]
