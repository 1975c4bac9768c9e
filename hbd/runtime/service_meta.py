"""The actions of cluster.conf resources run by OCF agents, from the agents' own meta-data (read once, at start).

rgmanager builds each resource type's actions (timeout, interval, depth) from its agent's `meta-data`
(rgmanager.md §1.1); hbd ships its rule table (hbd/config/rules.py) instead, which is right for the agents hbd
runs itself (ip, fs, drbd, script). A resource of any other type runs through an OCF agent of that name
(hbd/agents/registry.py), and that agent's meta-data says how it wants to be run: before the daemon takes part,
each such resource's agent is asked for its `meta-data` once, within META_DATA_TIMEOUT_S. Every action name the
agent declares replaces the rule table's actions of that name (its `monitor` stands for `status` when it
declares no `status`: agents written for Pacemaker declare only monitor), and the resource's own `<action>`
elements are laid over the result, as over the rule table. The status check (interval, depth, timeout) and the
bounds of start, stop and status then come from there. An agent that cannot be run, fails, hangs, or prints
meta-data that is not usable keeps the rule table's actions, with a WARN line naming it and why.
"""
from __future__ import annotations

import logging
import math
import re
from typing import Callable

from hbd.agents.base import Agent, Deadline
from hbd.agents.ocf import OcfAgent, OcfMetaData
from hbd.config.model import ResourceNode
from hbd.config.rules import Action, apply_overrides, rule_for
from hbd.errors import AgentError
from hbd.runtime.logsetup import log_hb
from hbd.runtime.service_trees import ServiceTrees, status_action

LOG = logging.getLogger("hbd.services")
META_DATA_TIMEOUT_S = 5.0
_TIME = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|msec|s|sec|m|min|h|hr)?")
_SECONDS = {"ms": 0.001, "msec": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}
CHECKED = ("status", "monitor")


def ocf_seconds(text: str) -> int:
    """An OCF meta-data time (`20`, `20s`, `1min`, `500ms`, as Pacemaker reads them) in whole seconds, rounded
    up (a timeout is never made shorter); ValueError when it is none."""
    match = _TIME.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"bad time {text!r}")
    return math.ceil(float(match.group(1)) * _SECONDS[match.group(2) or "s"])


def meta_actions(meta: OcfMetaData) -> tuple[Action, ...]:
    """The agent's actions with their times; ValueError names the first one that cannot be read."""
    out = []
    for spec in meta.timings:
        if not spec.name:
            continue
        try:
            timeout = ocf_seconds(spec.timeout) if spec.timeout else 0
            interval = ocf_seconds(spec.interval) if spec.interval else 0
            depth = int(spec.depth) if spec.depth and spec.name in CHECKED else 0
        except ValueError as exc:
            raise ValueError(f"action {spec.name}: {exc}") from None
        out.append(Action(spec.name, timeout, max(interval, 1) if interval else 0, depth))
    if not any(a.name == "status" for a in out):
        out += [Action("status", a.timeout, a.interval, a.depth) for a in out if a.name == "monitor"]
    return tuple(out)


def merged(rule_actions: tuple[Action, ...], agent_actions: tuple[Action, ...]) -> tuple[Action, ...]:
    """The rule table's actions, each name the agent declares replaced by the agent's."""
    names = {a.name for a in agent_actions}
    return tuple(a for a in rule_actions if a.name not in names) + agent_actions


def _agent_actions(node: ResourceNode, agent: Agent, timeout_s: float) -> tuple[Action, ...] | None:
    inner = getattr(agent, "inner", agent)  # a BoundedAgent's own agent
    if not isinstance(inner, OcfAgent):
        return None
    why = ""
    try:
        found = meta_actions(inner.meta_data(Deadline(timeout_s)))
        if not found:
            why = "it declares no actions"
    except (AgentError, ValueError, OSError) as exc:
        found, why = (), str(exc)
    if why:
        log_hb(LOG, "WARN", f"{node.ident}: meta-data of {inner.label} not usable ({why}): its checks and timeouts "
                            "come from the rule table")
        return None
    return found


def with_meta_data(trees: ServiceTrees, resolve: Callable[[ResourceNode], Agent],
                   timeout_s: float = META_DATA_TIMEOUT_S) -> ServiceTrees:
    """The trees with the actions of each resource run by an OCF agent taken from its meta-data (blocks: at most
    `timeout_s` per such resource; call it before the event loop runs heartbeats, or off the loop)."""
    changed: dict[str, tuple[Action, ...]] = {}
    for node in trees.resources():
        try:
            agent = resolve(node)
        except AgentError:
            continue  # no agent here: its start fails with the reason, the rule table stays
        found = _agent_actions(node, agent, timeout_s)
        if found is None:
            continue
        rule = rule_for(node.type)
        actions, _ = apply_overrides(merged(rule.actions if rule is not None else (), found),
                                     list(trees.overrides.get(node.ident, ())))
        changed[node.ident] = actions
        check = status_action(actions)
        log_hb(LOG, "info", f"{node.ident}: actions from the meta-data of {getattr(agent, 'label', node.ident)}"
                            + (f" (status every {check.interval} s, timeout {check.timeout} s)" if check else
                               " (no status action with an interval: not checked)"))
    return trees.with_actions(changed) if changed else trees
