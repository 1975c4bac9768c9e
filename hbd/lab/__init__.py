"""Network-namespace lab: nodes, switch, client, faults, probes, drbdadm emulator, invariant watchers."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hbd.lab.lab import Lab

__all__ = ["Lab"]


def __getattr__(name: str) -> Any:
    # Lazy, so the drbdadm emulator (run for every drbdadm call) does not import the whole lab.
    if name == "Lab":
        from hbd.lab.lab import Lab

        return Lab
    raise AttributeError(name)
