"""A node's fence plan: methods tried in order; each method's devices must all succeed.

As cluster.conf writes it: `<fencedevice name= agent= ...>` holds the device's shared parameters (address,
login); `<clusternode><fence><method name=><device name= ...>` names a device and adds the node's own
parameters (the plug or port). The node's parameters win over the device's.
"""
from __future__ import annotations

from dataclasses import dataclass

Params = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class FenceDevice:
    name: str
    agent: str
    params: Params = ()


@dataclass(frozen=True)
class DeviceUse:
    device: FenceDevice
    params: Params = ()  # the node's own parameters for this device

    @property
    def merged(self) -> Params:
        own = dict(self.params)
        out = [(k, v) for k, v in self.device.params if k not in own]
        out.extend(self.params)
        return tuple(out)


@dataclass(frozen=True)
class FenceMethod:
    name: str
    devices: tuple[DeviceUse, ...]


@dataclass(frozen=True)
class FencePlan:
    node: str  # the node this plan fences
    methods: tuple[FenceMethod, ...]

    def describe(self) -> str:
        return "; ".join(f"method {m.name}: " + ", ".join(f"{d.device.name} ({d.device.agent})" for d in m.devices)
                         for m in self.methods)
