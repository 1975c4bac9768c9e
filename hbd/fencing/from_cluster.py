"""Fence plans from cluster.conf: `<fencedevices>` and each `<clusternode><fence><method><device>`.

The schema (hbd/config/cluster.rng) has already checked the shape; here: a `<device>` must name a defined
`<fencedevice>`, a method needs at least one device, names are unique, and the agent must be installed.
"""
from __future__ import annotations

from typing import Any

from hbd.errors import Problems
from hbd.fencing.agent import find_agent
from hbd.fencing.model import DeviceUse, FenceDevice, FenceMethod, FencePlan, Params


def _params(elem: Any, skip: tuple[str, ...]) -> Params:
    return tuple((str(k), str(v)) for k, v in elem.attrib.items() if k not in skip)


def fence_devices(root: Any, file: str, problems: Problems) -> dict[str, FenceDevice]:
    out: dict[str, FenceDevice] = {}
    for elem in root.iterfind("fencedevices/fencedevice"):
        name, agent = elem.get("name"), elem.get("agent")
        if not name or not agent:
            continue  # the schema check reported it
        if name in out:
            problems.error(file, elem.sourceline, f"fence device {name} is defined twice")
            continue
        if find_agent(agent) is None:
            problems.error(file, elem.sourceline, f"fence device {name}: fence agent {agent} is not installed "
                                                  "(install fence-agents, or give the agent's full path)")
        out[name] = FenceDevice(name, agent, _params(elem, ("name", "agent")))
    return out


def fence_plans(root: Any, file: str, problems: Problems) -> tuple[FencePlan, ...]:
    """One plan per `<clusternode>` that has `<fence>` methods, in file order."""
    if root.tag != "cluster":
        return ()
    devices = fence_devices(root, file, problems)
    plans = []
    for node in root.iterfind("clusternodes/clusternode"):
        methods: list[FenceMethod] = []
        seen: set[str] = set()
        for elem in node.iterfind("fence/method"):
            name = elem.get("name") or str(len(methods) + 1)
            if name in seen:
                problems.error(file, elem.sourceline, f"node {node.get('name')}: fence method {name} is given twice")
            seen.add(name)
            uses = []
            for dev in elem.iterfind("device"):
                device = devices.get(dev.get("name", ""))
                if device is None:
                    problems.error(file, dev.sourceline, f"node {node.get('name')}: fence method {name} names "
                                                         f"device {dev.get('name')}, which is not a <fencedevice>")
                    continue
                uses.append(DeviceUse(device, _params(dev, ("name",))))
            if not uses and not any(True for _ in elem.iterfind("device")):
                problems.error(file, elem.sourceline, f"node {node.get('name')}: fence method {name} has no device")
            methods.append(FenceMethod(name, tuple(uses)))
        if methods:
            plans.append(FencePlan(node.get("name", ""), tuple(methods)))
    return tuple(plans)
