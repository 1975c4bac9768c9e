"""Network-namespace lab: nodes, switch, client, faults, probes, drbdadm emulator, invariant watchers."""
from __future__ import annotations

from hbd.lab.lab import Lab

__all__ = ["Lab"]
