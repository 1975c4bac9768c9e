"""Persisted node identity: the generation counter and node UUID in the state directory (heartbeat.md §1).

`hb_generation` holds a right-aligned decimal and a newline in 16 bytes, bumped and fsync'd on every start;
`hb_uuid` holds 16 raw bytes. Same formats as Heartbeat's /var/lib/heartbeat files, so they can be copied.
"""
from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from hbd.errors import HbdError

DEFAULT_STATE_DIR = Path("/var/lib/hbd")
GENERATION_FILE = "hb_generation"
UUID_FILE = "hb_uuid"


class StateError(HbdError):
    """The state directory cannot be read or written."""


@dataclass(frozen=True)
class NodeIdentity:
    generation: int
    uuid: bytes
    notes: tuple[tuple[str, str], ...]  # (level, text) to log: Heartbeat's start-up lines


def _write_durably(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself must survive a power cut, or the generation could repeat
    finally:
        os.close(dir_fd)


def next_generation(state_dir: Path) -> tuple[int, tuple[str, str]]:
    """Read, bump and persist the generation. A lost file restarts from the clock, as Heartbeat does."""
    path = state_dir / GENERATION_FILE
    try:
        text = path.read_bytes().decode("ascii").strip()
        previous = int(text)
    except FileNotFoundError:
        previous = None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise StateError(f"{path}: unreadable generation ({exc}); remove it to restart from the clock") from exc
    if previous is None:
        generation = int(time.time())
        note = ("WARN", f"No Previous generation - starting at {generation}")
    else:
        generation = previous + 1
        note = ("info", f"Heartbeat generation: {generation}")
    _write_durably(path, f"{generation:>15}\n".encode())
    return generation, note


def node_uuid(state_dir: Path) -> bytes:
    path = state_dir / UUID_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = uuid.uuid4().bytes
        _write_durably(path, data)
        return data
    if len(data) != 16:
        raise StateError(f"{path}: {len(data)} bytes, a node UUID has 16")
    return data


def load_identity(state_dir: Path = DEFAULT_STATE_DIR) -> NodeIdentity:
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        generation, note = next_generation(state_dir)
        return NodeIdentity(generation, node_uuid(state_dir), (note,))
    except OSError as exc:
        raise StateError(f"state directory {state_dir}: {exc.strerror or exc}") from exc
