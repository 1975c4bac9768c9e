"""Shared state of the lab's emulated DRBD resources (placeholder until the emulator lands)."""
from __future__ import annotations

import json
from pathlib import Path


def initialise(directory: Path, resource: str, nodes: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{resource}.json").write_text(json.dumps({"nodes": nodes}))


def power_lost(directory: Path, node: str) -> None:
    return None


def booted(directory: Path, node: str) -> None:
    return None
