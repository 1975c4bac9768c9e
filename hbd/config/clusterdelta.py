"""What a cluster.conf change means for the resources: rg_test's `delta` flags (NEEDSTOP, NEEDSTART, RECONFIG).

Resources are matched by type and primary value:
- gone, or changed in an attribute that is not `reconfig`: the old one NEEDSTOP, the new one NEEDSTART;
- changed only in `reconfig` attributes: the new one NEEDSTART and RECONFIG (a reconfig action, no restart);
- new: NEEDSTART.
Trees are matched node by node (same type and primary under the matching parent). A node that has no
counterpart, or whose resource carries the flag, is flagged itself and its subtree is left unflagged,
because everything below a node that stops or starts stops or starts with it. A node whose resource is
only reconfigured is flagged RECONFIG and its subtree is compared further.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from hbd.config.clusterconf import ClusterConf
from hbd.config.clustertree import Resource
from hbd.config.model import ResourceNode
from hbd.config.rules import Rule, builtin_rules

Key = tuple[str, str]


@dataclass(frozen=True)
class Delta:
    old_resources: tuple[Resource, ...]
    new_resources: tuple[Resource, ...]
    old_roots: tuple[ResourceNode, ...]
    new_roots: tuple[ResourceNode, ...]


def _key(item: Resource | ResourceNode) -> Key:
    return (item.type, item.primary)


def _changed(old: Resource, new: Resource) -> set[str]:
    before = {a.name: (a.value, a.inherited) for a in old.attrs}
    after = {a.name: (a.value, a.inherited) for a in new.attrs}
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


def _resource_flags(old: ClusterConf, new: ClusterConf, rules: dict[str, Rule]) -> tuple[dict[Key, set[str]],
                                                                                         dict[Key, set[str]]]:
    old_by_key: dict[Key, Resource] = {}
    for res in old.resources:
        old_by_key.setdefault(_key(res), res)
    new_by_key: dict[Key, Resource] = {}
    for res in new.resources:
        new_by_key.setdefault(_key(res), res)
    old_flags: dict[Key, set[str]] = {k: set() for k in old_by_key}
    new_flags: dict[Key, set[str]] = {k: set() for k in new_by_key}
    for key, res in new_by_key.items():
        before = old_by_key.get(key)
        if before is None:
            new_flags[key].add("NEEDSTART")
            continue
        changed = _changed(before, res)
        if not changed:
            continue
        rule = rules.get(res.type)
        reconfigurable = rule is not None and all(
            (p := rule.param(name)) is not None and p.reconfig for name in changed)
        if reconfigurable:
            new_flags[key] |= {"NEEDSTART", "RECONFIG"}
        else:
            old_flags[key].add("NEEDSTOP")
            new_flags[key].add("NEEDSTART")
    for key in old_by_key.keys() - new_by_key.keys():
        old_flags[key].add("NEEDSTOP")
    return old_flags, new_flags


def _mark(nodes: tuple[ResourceNode, ...], others: tuple[ResourceNode, ...], flag: str,
          flags: dict[Key, set[str]]) -> tuple[ResourceNode, ...]:
    unmatched = list(others)
    out = []
    for node in nodes:
        match = next((o for o in unmatched if _key(o) == _key(node)), None)
        if match is not None:
            unmatched.remove(match)
        own = flags.get(_key(node), set())
        if match is None or (flag in own and "RECONFIG" not in own):
            out.append(replace(node, flags=node.flags | {flag}))
            continue
        extra = own & {"RECONFIG"}  # reconfigured in place: the subtree keeps running
        out.append(replace(node, flags=node.flags | extra, children=_mark(node.children, match.children, flag, flags)))
    return tuple(out)


def resource_delta(old: ClusterConf, new: ClusterConf, rules: dict[str, Rule] | None = None) -> Delta:
    table = builtin_rules() if rules is None else rules
    old_flags, new_flags = _resource_flags(old, new, table)
    return Delta(
        tuple(replace(r, flags=r.flags | old_flags.get(_key(r), set())) for r in old.resources),
        tuple(replace(r, flags=r.flags | new_flags.get(_key(r), set())) for r in new.resources),
        _mark(old.roots, new.roots, "NEEDSTOP", old_flags),
        _mark(new.roots, old.roots, "NEEDSTART", new_flags),
    )
