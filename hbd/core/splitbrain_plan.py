"""Resolving a DRBD split brain by hand, as a plan: the checks that must hold, then the exact commands per node.

DRBD's manual recovery (DRBD's user guide, "Manual split brain recovery") keeps one node's data (the
survivor, `--keep NODE`) and throws away the other's changes since the split (the victim):

  on the victim    drbdadm secondary R
                   drbdadm disconnect R
                   drbdadm -- --discard-my-data connect R
  on the survivor  drbdadm connect R        (only when it is StandAlone; a node still waiting connects itself)

DRBD then resyncs the victim from the survivor. Before anything is run these must hold, else nothing is
run at all: both nodes answered for R; no group that uses R runs (or is moving) on the victim, and R's
filesystem is not mounted there (`secondary` would fail half-way, and anything still writing would be
lost without notice); the survivor is Primary, or has UpToDate data. Pure: facts in, a plan out.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Mapping

CONNECTED, STANDALONE = "Connected", "StandAlone"


class Verb(enum.Enum):
    SECONDARY = "secondary"
    DISCONNECT = "disconnect"
    DISCARD_CONNECT = "discard-connect"  # `drbdadm -- --discard-my-data connect R`
    CONNECT = "connect"

    def argv(self, resource: str) -> tuple[str, ...]:
        if self is Verb.DISCARD_CONNECT:
            return ("drbdadm", "--", "--discard-my-data", "connect", resource)
        return ("drbdadm", self.value, resource)

    @property
    def destructive(self) -> bool:
        """Run only when the victim's own checks still hold (the node carrying it out checks again)."""
        return self is not Verb.CONNECT


@dataclass(frozen=True)
class Facts:
    """One node's view of one resource: drbdadm's answer, and what uses the resource there."""

    node: str
    resource: str
    role: str | None = None
    disk: str | None = None
    connection: str | None = None
    mounted: tuple[str, ...] = ()  # mount points of the resource's filesystem that are mounted there
    groups: tuple[str, ...] = ()  # groups using the resource that run, or are starting or stopping, there
    error: str | None = None  # drbdadm (or the node) could not answer


@dataclass(frozen=True)
class Check:
    node: str
    must: str  # what has to hold
    ok: bool
    found: str  # what was found


@dataclass(frozen=True)
class Step:
    node: str
    verb: Verb
    resource: str

    @property
    def command(self) -> str:
        return " ".join(self.verb.argv(self.resource))


@dataclass(frozen=True)
class Plan:
    resource: str
    keep: str
    victim: str
    checks: tuple[Check, ...]
    steps: tuple[Step, ...]
    connected: bool  # already Connected on both sides: no split brain, nothing to run

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)


class PlanError(ValueError):
    """The request itself is wrong (an unknown node to keep): said before anything is looked at."""


def _state(f: Facts) -> str:
    return f"role {f.role}, disk {f.disk}, connection {f.connection}"


def victim_checks(f: Facts) -> tuple[Check, ...]:
    """What must hold on the victim before any of its commands; its daemon checks again right before."""
    groups = ", ".join(f.groups)
    mounts = ", ".join(f.mounted)
    return (
        Check(f.node, f"no group using {f.resource} runs here", not f.groups,
              f"running: {groups}" if f.groups else "none runs"),
        Check(f.node, f"{f.resource}'s filesystem is not mounted here", not f.mounted,
              f"mounted on {mounts}" if f.mounted else "not mounted"),
    )


def plan(resource: str, keep: str, facts: Mapping[str, Facts]) -> Plan:
    """The plan that keeps `keep`'s data of `resource`; `facts` has an entry per node of the pair."""
    if keep not in facts:
        raise PlanError(f"--keep {keep}: not a node of this pair (nodes: {', '.join(sorted(facts))})")
    if len(facts) != 2:
        raise PlanError(f"a DRBD split brain is resolved between two nodes, not {len(facts)}")
    victim = next(n for n in facts if n != keep)
    survivor, loser = facts[keep], facts[victim]
    checks: list[Check] = []
    for f in (survivor, loser):
        checks.append(Check(f.node, f"drbdadm answers for {resource}", f.error is None,
                            f.error if f.error is not None else _state(f)))
    if any(f.error is not None for f in (survivor, loser)):
        return Plan(resource, keep, victim, tuple(checks), (), False)
    if survivor.connection == CONNECTED and loser.connection == CONNECTED:
        return Plan(resource, keep, victim, tuple(checks), (), True)
    checks += victim_checks(loser)
    ready = survivor.role == "Primary" or survivor.disk == "UpToDate"
    checks.append(Check(keep, f"{keep} is Primary, or has UpToDate data, for {resource}", ready, _state(survivor)))
    steps = [Step(victim, verb, resource) for verb in (Verb.SECONDARY, Verb.DISCONNECT, Verb.DISCARD_CONNECT)]
    if survivor.connection == STANDALONE:
        steps.append(Step(keep, Verb.CONNECT, resource))
    return Plan(resource, keep, victim, tuple(checks), tuple(steps), False)


def render(p: Plan) -> list[str]:
    """`hbd splitbrain plan`'s text for one resource."""
    lines = [f"{p.resource}: keep {p.keep}'s data, discard {p.victim}'s changes since the split"]
    if p.connected:
        lines.append(f"  {p.resource} is Connected on both nodes: no split brain, nothing to do")
    lines.append("  checks:")
    lines += [f"    [{'ok' if c.ok else 'FAILED'}] {c.node}: {c.must} ({c.found})" for c in p.checks]
    if p.steps:
        for node in (p.victim, p.keep):
            mine = [s for s in p.steps if s.node == node]
            role = "victim" if node == p.victim else "survivor"
            lines.append(f"  on {node} ({role}):")
            lines += [f"    {s.command}" for s in mine] or ["    nothing: it connects by itself"]
    return lines
