"""Parse Heartbeat's haresources (heartbeat.md §4.1) into resource groups, and turn a group into a tree.

    NODE RESOURCE [RESOURCE...]      one logical line = one group, started left to right
    RESOURCE = Name | Name::arg::arg | a bare IPv4 address (= IPaddr::address, the old IPaddr)

`#` starts a comment anywhere, a trailing `\\` continues the line, the node is matched case-insensitively
against ha.cf's nodes, and the group key (the first resource as written) must be unique: Heartbeat names
a group by its key in every message.
"""
from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from pathlib import Path

from hbd.config.model import HaGroup, HaResource, ResourceNode
from hbd.config.textfile import numbered_lines, read_text
from hbd.errors import Problems

BARE_IP_GLOB = "[0-9]*.[0-9]*.[0-9]*.[0-9]*"  # the shell pattern Heartbeat's ResourceManager uses
MAX_GROUPS = 1000  # every group is named in status messages; far more than two nodes can run
MAX_RESOURCES = 100  # per group


def parse_resource(token: str) -> HaResource:
    """One resource token; raises ValueError for a token that names no script."""
    spelled = f"IPaddr::{token}" if fnmatch.fnmatchcase(token, BARE_IP_GLOB) else token
    name, *args = spelled.split("::")
    if not name:
        raise ValueError(f"resource '{token}' has no name before '::'")
    if "/" in name or name in (".", ".."):
        raise ValueError(f"resource '{token}': '{name}' is not a script name (no '/' allowed)")
    if not name.isprintable():
        raise ValueError(f"resource '{token}': the name contains control characters")
    return HaResource(agent=name, args=tuple(args), text=token)


def _logical_lines(path: Path, problems: Problems, text: str) -> list[tuple[int, str]]:
    """Join `\\`-continued lines after removing comments; each result carries its first line number."""
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in numbered_lines(text, path, problems):
        line = raw.split("#", 1)[0].rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        joined = " ".join(pending)
        pending = []
        if joined.strip():
            out.append((start, joined))
    if pending and " ".join(pending).strip():
        out.append((start, " ".join(pending)))
    return out


def parse_haresources(path: str | Path, problems: Problems, nodes: Sequence[str] | None) -> tuple[HaGroup, ...] | None:
    """Read haresources; `nodes` are ha.cf's nodes (None: not known, so not checked)."""
    path = Path(path)
    text = read_text(path, problems, "resources file")
    if text is None:
        return None
    first_problem = len(problems.items)
    groups: list[HaGroup] = []
    key_lines: dict[str, int] = {}
    for line_no, line in _logical_lines(path, problems, text):
        if len(groups) >= MAX_GROUPS:
            problems.error(path, line_no, f"more than {MAX_GROUPS} resource groups: the rest is not read")
            break
        node, *tokens = line.split()
        if len(tokens) > MAX_RESOURCES:
            problems.error(path, line_no, f"{len(tokens)} resources in one group: at most {MAX_RESOURCES}")
            continue
        node = node.lower()
        if nodes is not None and node not in nodes:
            problems.error(path, line_no, f"Bad nodename in haresources [{node}]: not a node of ha.cf "
                                          f"({', '.join(nodes) or 'none'})")
            continue
        if not tokens:
            problems.error(path, line_no, f"the group of node {node} has no resources")
            continue
        resources = []
        for token in tokens:
            try:
                resources.append(parse_resource(token))
            except ValueError as exc:
                problems.error(path, line_no, str(exc))
        if len(resources) != len(tokens):
            continue
        key = resources[0].text
        if key in key_lines:
            problems.error(path, line_no, f"duplicate group key '{key}' (first used on line {key_lines[key]}): "
                                          f"the first resource of each line must be unique")
            continue
        key_lines[key] = line_no
        groups.append(HaGroup(len(groups) + 1, node, tuple(resources), str(path), line_no))
    if any(p.severity == "error" for p in problems.items[first_problem:]):
        return None
    _warn_ambiguous_keys(path, problems, groups)
    if not groups:
        problems.warning(path, None, "no resource groups: hbd will only report membership")
    return tuple(groups)


def _warn_ambiguous_keys(path: Path, problems: Problems, groups: list[HaGroup]) -> None:
    """Heartbeat finds a group by grepping for its key in every line; a key used elsewhere confuses it."""
    holders: dict[str, list[HaGroup]] = {}  # resource text -> groups naming it after their key, in file order
    for other in groups:
        for text in dict.fromkeys(r.text for r in other.resources[1:]):
            holders.setdefault(text, []).append(other)
    for group in groups:  # linear: a big haresources must not take quadratic time
        for other in holders.get(group.key, ()):
            if other is not group:
                problems.warning(path, other.line, f"'{group.key}', the key of the group on line {group.line}, "
                                                   f"also appears in this group; Heartbeat may confuse the two")


def group_tree(group: HaGroup) -> ResourceNode:
    """A group as a resource tree: a `group` node whose children start left to right, stop right to left."""
    children = tuple(
        ResourceNode(type=res.agent, primary=res.text, attrs=(("args", res.argument_string),))
        for res in group.resources
    )
    return ResourceNode(type="group", primary=group.key, children=children, line=group.line)
