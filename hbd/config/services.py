"""cluster.conf `<rm>` -> the services' Catalog (hbd/core/service_model.py), every bad value named by line.

Reads each top-level `<service>` (nested services are resources of their parent, as in rgmanager) with
service.sh's defaults, its failover domain, and the `__independent_subtree` nodes of its tree. What
rgmanager would quietly misread is an error here, so that `hbd config check` and the daemon refuse it:
recovery outside restart/relocate/disable/restart-disable, a flag that is not 0/1/yes/no, a count or time
that is not a number, `depend` that is not `service:NAME` of another service, a dependency cycle.
A failover domain priority outside 1..100 is only a warning: rgmanager counts it as unprioritised.
"""
from __future__ import annotations

from typing import Any, Sequence

from hbd.config.rules import Rule, builtin_rules, expand_time, rule_for
from hbd.core.service_model import (
    Catalog, DependMode, Domain, DomainMember, NodeSpec, Recovery, ServiceSpec, Subtree,
)
from hbd.errors import Problems

_TRUE = ("1", "yes", "y", "true", "on")
_FALSE = ("0", "no", "n", "false", "off")


class _Reader:
    def __init__(self, file: str, problems: Problems, rules: dict[str, Rule]):
        self.file, self.problems, self.rules = file, problems, rules

    def error(self, elem: Any, text: str) -> None:
        self.problems.error(self.file, elem.sourceline, text)

    def flag(self, elem: Any, what: str, name: str, default: bool) -> bool:
        value = elem.get(name)
        if value is None:
            return default
        text = value.strip().lower()
        if text in _TRUE or (text.isdigit() and int(text) > 0):
            return True
        if text in _FALSE:
            return False
        self.error(elem, f"{what}: {name} must be 0 or 1 (or yes/no), not '{value}'")
        return default

    def count(self, elem: Any, what: str, name: str) -> int:
        value = elem.get(name)
        if value is None:
            return 0
        if not value.strip().isdigit():
            self.error(elem, f"{what}: {name} must be a whole number 0 or more, not '{value}'")
            return 0
        return int(value)

    def time_ms(self, elem: Any, what: str, name: str) -> int:
        value = elem.get(name)
        if value is None:
            return 0
        try:
            return expand_time(value) * 1000
        except ValueError:
            self.error(elem, f"{what}: {name} must be a time like 30, 30s, 10m or 1h, not '{value}'")
            return 0

    def choice(self, elem: Any, what: str, name: str, allowed: Sequence[str], default: str) -> str:
        value: str | None = elem.get(name)
        if value is None:
            return default
        if value.strip().lower() not in allowed:
            self.error(elem, f"{what}: {name} must be one of {', '.join(allowed)}, not '{value}'")
            return default
        return value.strip().lower()

    # --- one service -----------------------------------------------------------------------------

    def service(self, elem: Any, domains: dict[str, Domain], names: set[str]) -> ServiceSpec:
        name = elem.get("name", "")
        what = f"service {name}"
        depend, depend_text = None, elem.get("depend")
        if depend_text is not None:
            prefix, _, target = depend_text.strip().partition(":")
            if prefix != "service" or not target:
                self.error(elem, f"{what}: depend must be service:NAME, not '{depend_text}'")
            elif target == name:
                self.error(elem, f"{what}: depend names the service itself")
            elif target not in names:
                self.error(elem, f"{what}: depend names service {target}, which is not defined")
            else:
                depend = target
        return ServiceSpec(
            name=name,
            autostart=self.flag(elem, what, "autostart", True),
            domain=domains.get(elem.get("domain") or ""),
            recovery=Recovery(self.choice(elem, what, "recovery", [r.value for r in Recovery], "restart")),
            max_restarts=self.count(elem, what, "max_restarts"),
            restart_expire_ms=self.time_ms(elem, what, "restart_expire_time"),
            exclusive=self.flag(elem, what, "exclusive", False),
            depend=depend,
            depend_mode=DependMode(self.choice(elem, what, "depend_mode", [m.value for m in DependMode], "hard")),
            enforce_timeouts=self.flag(elem, what, "__enforce_timeouts", False),
            independent=tuple(self._subtrees(elem, what)),
            line=elem.sourceline,
        )

    def _subtrees(self, service: Any, what: str) -> list[Subtree]:
        out = []
        for elem in service.iterdescendants():
            if not isinstance(elem.tag, str) or elem.tag == "action":
                continue
            where = f"{what}, <{elem.tag}>"
            self.flag(elem, where, "__enforce_timeouts", False)
            value = elem.get("__independent_subtree")
            if value is None:
                continue
            text = value.strip().lower()
            non_critical = text in ("2", "non-critical")
            if not non_critical and text not in _TRUE + _FALSE:
                self.error(elem, f"{where}: __independent_subtree must be 0, 1, 2, yes, no or non-critical, "
                                 f"not '{value}'")
                continue
            if not non_critical and text in _FALSE:
                continue
            rule = rule_for(elem.tag, self.rules)
            primary = rule.primary if rule is not None else None
            ident = f"{elem.tag}:{elem.get(primary.name) if primary is not None and elem.get(primary.name) else elem.get('ref', '')}"
            out.append(Subtree(ident, self.count(elem, where, "__max_restarts"),
                               self.time_ms(elem, where, "__restart_expire_time"), non_critical))
        return out

    # --- domains ---------------------------------------------------------------------------------

    def domains(self, rm: Any) -> dict[str, Domain]:
        out: dict[str, Domain] = {}
        for elem in rm.iterfind("failoverdomains/failoverdomain"):
            name = elem.get("name", "")
            what = f"failover domain {name}"
            ordered = self.flag(elem, what, "ordered", False)
            members = []
            for node in elem.iterchildren("failoverdomainnode"):
                priority = 0
                text = node.get("priority")
                if ordered and text is not None and text.strip().isdigit():
                    priority = int(text)
                    if not 1 <= priority <= 100:
                        self.problems.warning(self.file, node.sourceline, f"{what}: priority {priority} of "
                                              f"{node.get('name')} is outside 1..100: it counts as unprioritised")
                members.append(DomainMember(node.get("name", ""), priority))
            out.setdefault(name, Domain(name, ordered, self.flag(elem, what, "restricted", False),
                                        self.flag(elem, what, "nofailback", False), tuple(members)))
        return out


def _cycles(services: list[ServiceSpec], elems: list[Any], file: str, problems: Problems) -> None:
    depends = {s.name: s.depend for s in services}
    for spec, elem in zip(services, elems):
        seen, at = {spec.name}, spec.depend
        while at is not None:
            if at in seen:
                problems.error(file, elem.sourceline, f"service {spec.name}: depend forms a cycle through {at}")
                break
            seen.add(at)
            at = depends.get(at)


def service_catalog(rm: Any | None, nodes: Sequence[tuple[str, int | None, int]], file: str,
                    problems: Problems, rules: dict[str, Rule] | None = None) -> Catalog:
    """The Catalog of an lxml `<rm>` (None: no services); `nodes` are (name, nodeid, votes) of <clusternodes>."""
    node_specs = tuple(NodeSpec(n, i, v) for n, i, v in nodes if i is not None)
    if rm is None:
        return Catalog(node_specs, ())
    reader = _Reader(file, problems, builtin_rules() if rules is None else rules)
    domains = reader.domains(rm)
    elems = list(rm.iterchildren("service"))
    names = {e.get("name", "") for e in elems}
    services = [reader.service(e, domains, names) for e in elems]
    _cycles(services, elems, file, problems)
    return Catalog(node_specs, tuple(services))
