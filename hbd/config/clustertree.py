"""cluster.conf `<rm>` -> resource list and resource trees, by rgmanager's loading rules (rgmanager.md §1.3-1.7).

This reproduces what rg_test builds, quirks included, because `hbd test` must print what rg_test prints:
- global `<resources>` load type by type (alphabetical), each type in document order; an entry without
  its primary or a required attribute ends that type's list;
- tree children: first the parent's declared child types (declaration order, each in document order),
  then every other known element in document order; forbidden and unknown elements are dropped with
  their subtree; an untyped child without its primary prints `No resource found @ XPATH` and ends the
  untyped pass for that parent, and a declared-type child without it ends that type's pass;
- `ref=` must name a resource defined in `<resources>`; inline definitions join the resource list;
- primary/unique values collide per type; `maxinstances` caps the references to a resource.
Every rg_test `Error:`/`Warning:` line is also recorded as a problem with the element's line number, so
that `hbd config check` rejects what rg_test would silently drop.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from lxml import etree

from hbd.config.model import ResourceNode
from hbd.config.rules import Action, ActionOverride, Rule, apply_overrides, builtin_rules, expand_time, rule_for
from hbd.errors import Problems

# rg_test prints resource and node flags in this order.
FLAG_ORDER = (
    "INLINE", "NEEDSTOP", "NEEDSTART", "COMMON", "INDEPENDENT", "RECONFIG", "INIT", "DESTROY",
    "ENFORCE-TIMEOUTS", "NON-CRITICAL",
)


class ResourceAttr(NamedTuple):
    """A NamedTuple rather than a frozen dataclass: tens of thousands are made for a large tree."""

    name: str
    value: str  # for an inherited attribute, the inherit spec (e.g. `service%name`)
    inherited: bool = False


@dataclass(frozen=True)
class Resource:
    """One entry of the resource list: a `<resources>` definition or an inline definition in a tree."""

    type: str
    attrs: tuple[ResourceAttr, ...]
    flags: frozenset[str]
    refs: int
    maxinstances: int
    line: int | None
    actions: tuple[Action, ...] = ()  # the rule's actions after this resource's `<action>` overrides
    overrides: tuple[ActionOverride, ...] = ()  # its `<action>` elements (laid over an agent's meta-data too)

    @property
    def primary(self) -> str:
        return self.attrs[0].value if self.attrs else ""

    def attr(self, name: str) -> ResourceAttr | None:
        return next((a for a in self.attrs if a.name == name), None)


@dataclass
class _Entry:
    """A resource while the trees are being built (its reference count still changes)."""

    rule: Rule
    attrs: list[ResourceAttr]
    inline: bool
    line: int | None
    actions: tuple[Action, ...] = ()
    refs: int = 0
    overrides: tuple[ActionOverride, ...] = ()

    def freeze(self) -> Resource:
        flags = frozenset({"INLINE"}) if self.inline else frozenset()
        return Resource(self.rule.type, tuple(self.attrs), flags, self.refs, self.rule.maxinstances, self.line,
                        self.actions, self.overrides)


_MISSING = object()  # a child that lacks its primary or a required attribute


@dataclass
class TreeBuild:
    """The result of building the `<rm>` trees."""

    resources: list[Resource] = field(default_factory=list)
    roots: list[ResourceNode] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # rg_test's stderr lines (`Replacing action ...`)


def _elements(elem: Any) -> list[Any]:
    return list(elem.iterchildren(tag=etree.Element))


def _yes(value: str | None) -> bool:
    if value is None:
        return False
    value = value.strip().lower()
    return value.startswith("y") or (value.isdigit() and int(value) > 0)


class _Builder:
    def __init__(self, file: str, problems: Problems, rules: dict[str, Rule]):
        self.file = file
        self.problems = problems
        self.rules = rules
        self.entries: list[_Entry] = []
        self.unique_index: dict[tuple[str, str, str], _Entry] = {}
        self.primary_index: dict[tuple[str, str], _Entry] = {}
        self.defaults: dict[str, dict[str, str]] = {}
        self.out = TreeBuild()

    # --- messages ------------------------------------------------------------------------------------

    def _error(self, line: int | None, rg_lines: list[str], text: str) -> None:
        self.out.messages.extend(rg_lines)
        self.problems.error(self.file, line, text)

    # --- resource-defaults ---------------------------------------------------------------------------

    def load_defaults(self, rm: Any) -> None:
        for section in rm.iterchildren("resource-defaults"):
            for elem in _elements(section):
                rule = rule_for(elem.tag, self.rules)
                if rule is None:
                    continue
                for name, value in elem.attrib.items():
                    param = rule.param(name)
                    if param is None or param.primary or param.unique:
                        continue
                    per_type = self.defaults.setdefault(rule.type, {})
                    old = per_type.get(name, param.default)
                    if old is not None:
                        self.out.messages.append(f"changing default for {rule.type} attr {name} from {old} to {value}")
                    else:
                        self.out.messages.append(f"setting default for {rule.type} attr {name} to {value}")
                    per_type[name] = value

    # --- one resource --------------------------------------------------------------------------------

    def _load(self, rule: Rule, elem: Any, inline: bool, attrib: dict[str, str] | None = None) -> _Entry | None:
        attrs: list[ResourceAttr] = []
        defaults = self.defaults.get(rule.type, {})
        given = dict(elem.attrib) if attrib is None else attrib  # one copy: lxml lookups are slow
        for param in rule.params:
            value = given.get(param.name)
            if value is not None:
                attrs.append(ResourceAttr(param.name, value))
            elif param.primary or param.required:
                return None
            elif param.name in defaults:
                attrs.append(ResourceAttr(param.name, defaults[param.name]))
            elif param.inherit is not None:
                attrs.append(ResourceAttr(param.name, param.inherit, inherited=True))
            elif param.default is not None:
                attrs.append(ResourceAttr(param.name, param.default))
        primary = rule.primary
        at = next((i for i, a in enumerate(attrs) if primary is not None and a.name == primary.name), 0)
        if at:
            attrs[0], attrs[at] = attrs[at], attrs[0]
        overrides = self._overrides(elem)
        actions, notes = apply_overrides(rule.actions, overrides)
        self.out.notes.extend(notes)
        return _Entry(rule, attrs, inline, elem.sourceline, actions, overrides=tuple(overrides))

    def _overrides(self, elem: Any) -> list[ActionOverride]:
        overrides = []
        for action in elem.iterchildren("action"):
            try:
                overrides.append(ActionOverride(
                    action.get("name", ""),
                    None if action.get("depth") in (None, "*") else int(action.get("depth")),
                    None if action.get("timeout") is None else expand_time(action.get("timeout")),
                    None if action.get("interval") is None else expand_time(action.get("interval")),
                ))
            except ValueError:
                self.problems.error(self.file, action.sourceline,
                                    "<action> depth must be a number or *, timeout and interval a time like 30s or 5m")
        return overrides

    def _store(self, entry: _Entry) -> bool:
        rule = entry.rule
        keys: list[tuple[str, str, str]] = []
        for attr in entry.attrs:
            param = rule.param(attr.name)
            if attr.inherited or param is None or not (param.primary or param.unique):
                continue
            key = (rule.type, attr.name, attr.value)
            other = self.unique_index.get(key)
            if other is None:
                keys.append(key)
                continue
            kind = "Primary" if param.primary else "Unique"
            self._error(
                entry.line,
                [f"Error: {kind} attribute collision. type={rule.type} attr={attr.name} value={attr.value}",
                 f"Error storing {rule.type} resource"],
                f"{kind.lower()} attribute collision: {rule.type} {attr.name}=\"{attr.value}\" is already "
                f"used by the {rule.type} defined at line {other.line}",
            )
            return False
        for key in keys:
            self.unique_index[key] = entry
        if entry.attrs:
            self.primary_index.setdefault((rule.type, entry.attrs[0].value), entry)
        self.entries.append(entry)
        return True

    def _find_by_ref(self, rule: Rule, ref: str) -> _Entry | None:
        hit = self.primary_index.get((rule.type, ref))
        if hit is not None:
            return hit
        for e in self.entries:
            if e.rule is not rule:
                continue
            for a in e.attrs:
                p = rule.param(a.name)
                if p is not None and p.unique and p.required and not a.inherited and a.value == ref:
                    return e
        return None

    # --- global <resources> --------------------------------------------------------------------------

    def load_global(self, rm: Any) -> None:
        sections = list(rm.iterchildren("resources"))
        for rule in self.rules.values():
            for section in sections:
                for elem in section.iterchildren(rule.type):
                    entry = self._load(rule, elem, inline=False)
                    if entry is None:
                        break  # rgmanager stops at the first entry of a type it cannot load
                    self._store(entry)

    # --- trees ---------------------------------------------------------------------------------------

    def _node(self, rule: Rule, elem: Any, ancestors: list[tuple[str, dict[str, str | None]]],
              xpath: str) -> Any:
        attrib = dict(elem.attrib)
        ref = attrib.get("ref")
        if ref is not None:
            entry = self._find_by_ref(rule, ref)
            if entry is None:
                self._error(elem.sourceline, [f"Error: Reference to nonexistent resource {ref} (type {rule.type})"],
                            f"reference to nonexistent resource {ref} (type {rule.type})")
                return None
            if entry.inline:
                self._error(
                    elem.sourceline, [f"Error: Reference to inlined resource {ref} (type {rule.type}) is illegal"],
                    f"reference to resource {ref} (type {rule.type}) defined inline at line {entry.line}; "
                    "only resources in <resources> can be referenced",
                )
                return None
        else:
            loaded = self._load(rule, elem, inline=True, attrib=attrib)
            if loaded is None:
                return _MISSING
            if not self._store(loaded):
                return None
            entry = loaded
        if rule.maxinstances and entry.refs >= rule.maxinstances:
            first = entry.attrs[0]
            self.out.messages.append(f"Warning: Max references exceeded for resource {first.name} (type {rule.type})")
            self.problems.error(
                self.file, elem.sourceline,
                f"{rule.type} {first.value} is used more than {rule.maxinstances} time(s) (maxinstances); "
                "this occurrence is dropped",
            )
            return None
        entry.refs += 1
        resolved = [(a.name, self._resolve(a, ancestors)) for a in entry.attrs]
        flags = self._node_flags(attrib, top_level=not ancestors)
        children = self._children(elem, rule, ancestors + [(rule.type, dict(resolved))], xpath)
        return ResourceNode(rule.type, entry.attrs[0].value if entry.attrs else "", tuple(resolved),
                            tuple(children), frozenset(flags), elem.sourceline)

    @staticmethod
    def _resolve(attr: ResourceAttr, ancestors: list[tuple[str, dict[str, str | None]]]) -> str | None:
        if not attr.inherited:
            return attr.value
        if "%" in attr.value:
            rtype, _, name = attr.value.partition("%")
            for anc_type, anc_attrs in reversed(ancestors):
                if anc_type == rtype:
                    return anc_attrs.get(name)
            return None
        return ancestors[-1][1].get(attr.value) if ancestors else None

    @staticmethod
    def _node_flags(attrib: dict[str, str], top_level: bool) -> set[str]:
        flags: set[str] = set()
        independent = (attrib.get("__independent_subtree") or "").strip().lower()
        if not top_level and independent in ("2", "non-critical"):
            flags |= {"INDEPENDENT", "NON-CRITICAL"}
        elif not top_level and _yes(independent):
            flags.add("INDEPENDENT")
        if _yes(attrib.get("__enforce_timeouts")):
            flags.add("ENFORCE-TIMEOUTS")
        return flags

    def _children(self, elem: Any, rule: Rule | None,
                  ancestors: list[tuple[str, dict[str, str | None]]], xpath: str) -> list[ResourceNode]:
        children: list[ResourceNode] = []
        kids = _elements(elem)
        if not kids:
            return children
        tags = [k.tag for k in kids]
        declared = {ct.type for ct in rule.children} if rule is not None else set()
        for ct in rule.children if rule is not None else ():
            child_rule = self.rules.get(ct.type)
            if ct.forbid or child_rule is None:
                if ct.forbid:
                    self._report_forbidden(kids, ct.type, rule)
                continue
            for pos, tag in enumerate(tags, 1):
                if tag != ct.type:
                    continue
                node = self._node(child_rule, kids[pos - 1], ancestors, f"{xpath}/child::*[{pos}]")
                if node is _MISSING:
                    break
                if node is not None:
                    children.append(node)
        for pos, tag in enumerate(tags, 1):
            child_rule = rule_for(tag, self.rules)
            if child_rule is None or child_rule.type in declared:
                continue
            node = self._node(child_rule, kids[pos - 1], ancestors, f"{xpath}/child::*[{pos}]")
            if node is _MISSING:
                self.out.messages.append(f"No resource found @ {xpath}/child::*[{pos}]")
                break
            if node is not None:
                children.append(node)
        return children

    def _report_forbidden(self, kids: list[Any], child_type: str, rule: Rule | None) -> None:
        for kid in kids:
            if rule_for(kid.tag, self.rules) is self.rules.get(child_type):
                self.problems.error(self.file, kid.sourceline,
                                    f"<{kid.tag}> is not allowed inside <{rule.type if rule else 'rm'}>: "
                                    "rgmanager ignores it and everything inside it")

    def build(self, rm: Any) -> TreeBuild:
        self.load_defaults(rm)
        self.load_global(rm)
        self.out.roots = self._children(rm, None, [], "/cluster/rm")
        self.out.resources = [e.freeze() for e in self.entries]
        return self.out


def build_trees(rm: Any, file: str, problems: Problems, rules: dict[str, Rule] | None = None) -> TreeBuild:
    """Build the resource list and the service/vm trees of an lxml `<rm>` element."""
    return _Builder(file, problems, builtin_rules() if rules is None else rules).build(rm)
