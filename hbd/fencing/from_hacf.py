"""Fence plans from ha.cf's `stonith_host` lines, mapped onto fence agents.

Heartbeat's line is `stonith_host HOSTFROM TYPE PARAMS...`: HOSTFROM is the node that uses the device (`*`:
every node), TYPE a STONITH plugin. hbd runs fence-agents instead of Heartbeat's plugins, so TYPE names a
fence agent (`fence_ipmilan`, `fence_virsh`, or a full path) and PARAMS are its `key=value` parameters.
Without `plug=` or `port=`, hbd adds `plug=NODE` (the node being fenced). Each line that applies is one
method, tried in file order. TYPE `meatware` keeps Heartbeat's meaning: no device, an operator confirms by
hand (`hbd fence-ack NODE`). Any other Heartbeat plugin is refused: running without the fencing it asks
for would risk both nodes writing the shared disk.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from hbd.config.model import HaCf
from hbd.fencing.agent import find_agent
from hbd.fencing.model import DeviceUse, FenceDevice, FenceMethod, FencePlan

MANUAL = "meatware"
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
TARGET_KEYS = ("plug", "port", "nodename")


@dataclass(frozen=True)
class StonithLine:
    hostfrom: str
    agent: str  # a fence agent, or MANUAL
    params: tuple[tuple[str, str], ...]


def parse_stonith_host(value: str) -> StonithLine:
    """Check one `stonith_host` value; ValueError says what is wrong (ha.cf's parser adds file and line)."""
    words = value.split()
    if len(words) < 2:
        raise ValueError("needs HOSTFROM and a fence agent: stonith_host * fence_ipmilan ip=... username=...")
    hostfrom, agent, rest = words[0].lower(), words[1], words[2:]
    if agent == MANUAL:
        if rest:
            raise ValueError("meatware takes no parameters (the operator confirms with `hbd fence-ack NODE`)")
        return StonithLine(hostfrom, MANUAL, ())
    if not (agent.startswith("/") or agent.startswith("fence_")):
        raise ValueError(f"'{agent}' is a Heartbeat STONITH plugin, which hbd does not run; name a fence agent "
                         "instead (stonith_host * fence_ipmilan ip=ADDR username=U password=P), or meatware "
                         "for confirmation by hand")
    if find_agent(agent) is None:
        raise ValueError(f"fence agent {agent} is not installed (install fence-agents, or give its full path)")
    params = []
    for word in rest:
        key, eq, val = word.partition("=")
        if not eq or not _KEY.match(key):
            raise ValueError(f"'{word}': fence agent parameters are key=value (as the agent reads them on stdin)")
        if key == "action":
            raise ValueError("action= is chosen by hbd (reboot, off, status), not set here")
        params.append((key, val))
    return StonithLine(hostfrom, agent, tuple(params))


@dataclass(frozen=True)
class HaCfFencing:
    plan: FencePlan  # methods for the peer; empty when only manual confirmation is configured
    manual: bool  # a meatware line: an operator may confirm by hand

    @property
    def configured(self) -> bool:
        return bool(self.plan.methods) or self.manual


def peer_fencing(hacf: HaCf, target: str) -> HaCfFencing:
    """How the local node fences `target`: the `stonith_host` lines for this node or `*`, in order."""
    methods, manual = [], False
    for d in hacf.directives:
        if d.name != "stonith_host":
            continue
        line = parse_stonith_host(d.value)
        if line.hostfrom not in ("*", hacf.local_node):
            continue
        if line.agent == MANUAL:
            manual = True
            continue
        params = line.params
        if not any(k in TARGET_KEYS for k, _ in params):
            params = params + (("plug", target),)
        device = FenceDevice(f"stonith_host line {d.line}", line.agent, params)
        methods.append(FenceMethod(f"line {d.line}", (DeviceUse(device),)))
    return HaCfFencing(FencePlan(target, tuple(methods)), manual)
