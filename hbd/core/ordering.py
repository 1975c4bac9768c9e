"""Start, stop and status plans for resource trees, by rgmanager's child-type ordering rules (pure).

A parent always starts before its children and stops after them. How siblings are ordered depends on the
child types the parent's rule declares (`ChildType` start/stop levels):

- a parent that declares no child types (script, drbd, a haresources `group`, ...) starts its children in
  list order and stops them in reverse;
- otherwise start goes level 1..100, within a level by declaration order, each type's children in list
  order; then the "default level": untyped children and types declared without levels, in list order.
  Stop runs the default level first (list order reversed), then stop levels 1..100, again by declaration
  order within a level (not mirrored: fs children stop before clusterfs children under an fs), each type's
  children in reverse list order.

A plan is data: a tuple of `Step(op, node, path)`; `path` is the child-index path from the plan's root node.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Literal, Mapping

from hbd.config.model import ChildType, ResourceNode

Op = Literal["start", "stop", "status"]
ChildTypes = Mapping[str, tuple[ChildType, ...]]

MAX_LEVEL = 100


@dataclass(frozen=True)
class Step:
    op: Op
    node: ResourceNode
    path: tuple[int, ...]

    @property
    def depth(self) -> int:
        return len(self.path)

    def __str__(self) -> str:
        return f"[{self.op}] {self.node.ident}"


def _levelled(declared: tuple[ChildType, ...], which: Literal["start", "stop"]) -> list[str]:
    """Declared types with a level for `which`, in (level, declaration order)."""
    keyed = [
        (getattr(ct, which), index, ct.type)
        for index, ct in enumerate(declared)
        if not ct.forbid and 1 <= getattr(ct, which) <= MAX_LEVEL
    ]
    return [t for _, _, t in sorted(keyed)]


def _in_default_level(declared: tuple[ChildType, ...], child_type: str) -> bool:
    return not any(ct.type == child_type and (ct.start or ct.stop) for ct in declared)


def _start_order(node: ResourceNode, types: ChildTypes) -> list[int]:
    declared = types.get(node.type, ())
    indices = list(range(len(node.children)))
    if not declared:
        return indices
    order: list[int] = []
    for child_type in _levelled(declared, "start"):
        order.extend(i for i in indices if node.children[i].type == child_type)
    order.extend(i for i in indices if _in_default_level(declared, node.children[i].type))
    return order


def _stop_order(node: ResourceNode, types: ChildTypes) -> list[int]:
    declared = types.get(node.type, ())
    backwards = list(reversed(range(len(node.children))))
    if not declared:
        return backwards
    order = [i for i in backwards if _in_default_level(declared, node.children[i].type)]
    for child_type in _levelled(declared, "stop"):
        order.extend(i for i in backwards if node.children[i].type == child_type)
    return order


def _walk_start(node: ResourceNode, types: ChildTypes, op: Op, path: tuple[int, ...]) -> Iterator[Step]:
    yield Step(op, node, path)
    for i in _start_order(node, types):
        yield from _walk_start(node.children[i], types, op, path + (i,))


def _walk_stop(node: ResourceNode, types: ChildTypes, path: tuple[int, ...]) -> Iterator[Step]:
    for i in _stop_order(node, types):
        yield from _walk_stop(node.children[i], types, path + (i,))
    yield Step("stop", node, path)


def start_plan(node: ResourceNode, types: ChildTypes) -> tuple[Step, ...]:
    return tuple(_walk_start(node, types, "start", ()))


def stop_plan(node: ResourceNode, types: ChildTypes) -> tuple[Step, ...]:
    return tuple(_walk_stop(node, types, ()))


def status_plan(node: ResourceNode, types: ChildTypes) -> tuple[Step, ...]:
    """Status follows the start traversal: parent before children."""
    return tuple(_walk_start(node, types, "status", ()))


def plan(op: Op, node: ResourceNode, types: ChildTypes) -> tuple[Step, ...]:
    builders: dict[str, Callable[[ResourceNode, ChildTypes], tuple[Step, ...]]] = {
        "start": start_plan, "stop": stop_plan, "status": status_plan,
    }
    return builders[op](node, types)


def find_targets(
    roots: tuple[ResourceNode, ...], matches: Callable[[ResourceNode], bool]
) -> tuple[tuple[ResourceNode, tuple[int, ...]], ...]:
    """Every node that `matches`, in traversal order of all roots; a match's own subtree is not searched.

    Paths start with the root's index among `roots`.
    """
    found: list[tuple[ResourceNode, tuple[int, ...]]] = []
    stack: list[tuple[ResourceNode, tuple[int, ...]]] = [(r, (i,)) for i, r in reversed(list(enumerate(roots)))]
    while stack:
        node, path = stack.pop()
        if matches(node):
            found.append((node, path))
            continue
        stack.extend((c, path + (i,)) for i, c in reversed(list(enumerate(node.children))))
    return tuple(found)


def targeted_plan(
    op: Op, roots: tuple[ResourceNode, ...], matches: Callable[[ResourceNode], bool], types: ChildTypes
) -> tuple[Step, ...]:
    """rg_test's `start|stop|status TYPE NAME`: operate on every matched subtree, in traversal order."""
    steps: list[Step] = []
    for node, path in find_targets(roots, matches):
        steps.extend(Step(s.op, s.node, path + s.path) for s in plan(op, node, types))
    return tuple(steps)


def by_ident(rtype: str, primary: str) -> Callable[[ResourceNode], bool]:
    return lambda node: node.type == rtype and node.primary == primary
