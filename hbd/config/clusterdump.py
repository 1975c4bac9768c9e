"""Text dumps in rg_test's formats: resource list, resource tree (RHEL5 format), failover domains, rules."""
from __future__ import annotations

from typing import Iterable

from hbd.config.clusterconf import ClusterNode, FailoverDomain
from hbd.config.clustertree import FLAG_ORDER, Resource
from hbd.config.model import ResourceNode
from hbd.config.rules import Rule, builtin_rules


def _flag_words(flags: Iterable[str]) -> str:
    present = set(flags)
    return " ".join(f for f in FLAG_ORDER if f in present) + " " * bool(present)


def _param_flags(rule: Rule | None, name: str) -> list[str]:
    param = rule.param(name) if rule is not None else None
    if param is None:
        return []
    return [w for w, on in (("primary", param.primary), ("unique", param.unique),
                            ("required", param.required), ("reconfig", param.reconfig)) if on]


def resource_list(resources: Iterable[Resource], rules: dict[str, Rule] | None = None) -> list[str]:
    table = builtin_rules() if rules is None else rules
    out: list[str] = []
    for res in resources:
        rule = table.get(res.type)
        head = f"Resource type: {res.type}"
        if res.flags:
            head += " " + " ".join(f"[{f}]" for f in FLAG_ORDER if f in res.flags)
        out.append(head)
        if res.maxinstances:
            out.append(f"Instances: {res.refs}/{res.maxinstances}")
        out.append(f"Agent: {res.type}.sh")
        out.append("Attributes:")
        for attr in res.attrs:
            if attr.inherited:
                out.append(f'  {attr.name} [ inherit("{attr.value}") ]')
                continue
            flags = _param_flags(rule, attr.name)
            out.append(f"  {attr.name} = {attr.value}" + (f" [ {' '.join(flags)} ]" if flags else ""))
        out.append("")
    return out


def resource_tree(roots: Iterable[ResourceNode]) -> list[str]:
    out: list[str] = []

    def walk(node: ResourceNode, depth: int) -> None:
        pad = "  " * depth
        flags = f" [ {_flag_words(node.flags)}]" if node.flags else ""
        out.append(f"{pad}{node.type}{flags} {{")
        for name, value in node.attrs:
            out.append(f'{pad}  {name} = "{"(null)" if value is None else value}";')
        for child in node.children:
            walk(child, depth + 1)
        out.append(f"{pad}}}")

    for root in roots:
        walk(root, 0)
    return out


def failover_domains(domains: Iterable[FailoverDomain], nodes: Iterable[ClusterNode]) -> list[str]:
    ids = {n.name: n.nodeid for n in nodes}
    out: list[str] = []
    for dom in domains:
        out.append(f"Failover domain: {dom.name}")
        words = [w for w, on in (("Ordered", dom.ordered), ("Restricted", dom.restricted),
                                 ("No Failback", dom.nofailback)) if on]
        out.append("Flags: " + (" ".join(words) if words else "none"))
        for member in dom.nodes:
            nodeid = ids.get(member.name)
            out.append(f"  Node {member.name} (id {nodeid if nodeid is not None else 'unknown'}, "
                       f"priority {member.priority})")
    return out


def rules_dump(rules: dict[str, Rule] | None = None) -> list[str]:
    table = builtin_rules() if rules is None else rules
    out: list[str] = []
    for rule in table.values():
        out.append(f'Resource Rules for "{rule.type}"')
        if rule.maxinstances:
            out.append(f"Max instances: {rule.maxinstances}")
        out.append(f"Agent: {rule.agent}")
        flags = [w for w, on in (("init_on_add", rule.init_on_add), ("destroy_on_delete", rule.destroy_on_delete)) if on]
        out.append("Flags: " + (" ".join(flags) if flags else "(none)"))
        out.append("Attributes:")
        for param in rule.params:
            words = _param_flags(rule, param.name) + (["inherit"] if param.inherit else [])
            line = f"  {param.name}" + (f" [ {' '.join(words)} ]" if words else "")
            default = param.inherit if param.inherit else param.default
            if default is not None:
                line += f' default="{default}"'
            out.append(line)
        out.append("Actions:")
        for action in rule.actions:
            out.append(f"  {action.name}")
            out.append(f"    Timeout (hint): {action.timeout} seconds")
            if action.name in ("status", "monitor"):
                out.append(f"    OCF Check Depth (status/monitor): {action.depth} seconds")
            if action.interval:
                out.append(f"    Check Interval: {action.interval} seconds")
        out.append("Explicitly defined child resource types:")
        if not rule.children:
            out.append("  - None -")
        for child in rule.children:
            if child.forbid:
                out.append(f"  {child.type} (forbidden)")
            elif child.start or child.stop:
                out.append(f"  {child.type} [ startlevel = {child.start} stoplevel = {child.stop} ] ")
            else:
                out.append(f"  {child.type}")
        out.append("")
    return out
